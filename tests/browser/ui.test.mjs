// The admin web UI in a real browser: headless Chromium (Debian's package) driven by
// playwright-core, against the real `ssf serve` binary on a temporary SQLite database and a
// local push receiver whose answers the test switches (202, 503, 400).
//
// Run with tests/browser/run.sh, or `node --test ui.test.mjs` after building target/debug/ssf.
// Environment: SSF_BIN (default target/debug/ssf), CHROMIUM (default /usr/bin/chromium).
// Screenshots of every page go to docs/screenshots/ so the docs show the current UI.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SSF_BIN = process.env.SSF_BIN || path.join(ROOT, 'target/debug/ssf');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = path.join(ROOT, 'docs/screenshots');
const ADMIN_TOKEN = 'browser-test-admin-token-0123456789';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
const PUSH = 'urn:ietf:rfc:8935';

// Script errors and policy violations seen in the page; the last test asserts there were none.
const pageProblems = [];
let tmp;
let server;
let receiver;
let browser;
let page;
let base;

// ---- the push receiver ----------------------------------------------------------------------

// Answers 202 ('ok'), 503 ('unavailable') or an RFC 8935 400 error ('reject'); records every SET.
function startReceiver() {
  const state = { mode: 'ok', received: [] };
  const srv = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      const claims = decodeSet(body);
      state.received.push({ mode: state.mode, claims });
      if (state.mode === 'unavailable') {
        res.writeHead(503, { 'Content-Type': 'text/plain' }).end('down for maintenance');
      } else if (state.mode === 'reject') {
        res.writeHead(400, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ err: 'invalid_key', description: 'cannot verify the signature' }));
      } else {
        res.writeHead(202).end();
      }
    });
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      resolve({ state, url: `http://127.0.0.1:${port}/events`, close: () => new Promise((r) => srv.close(r)) });
    });
  });
}

function decodeSet(compact) {
  try {
    return JSON.parse(Buffer.from(compact.trim().split('.')[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

// SETs accepted (202) for this event type.
const acceptedOf = (type) => receiver.state.received
  .filter((r) => r.mode === 'ok' && r.claims && r.claims.events && r.claims.events[type]);

// ---- the server -----------------------------------------------------------------------------

function startServer(dir) {
  // The configuration URL the test expects is derived from the listen address.
  const env = { ...process.env };
  delete env.SSF_PUBLIC_URL;
  const child = spawn(SSF_BIN, [
    'serve',
    '--listen', '127.0.0.1:0',
    '--database-url', `sqlite://${dir}/ssf.db`,
    '--admin-token', ADMIN_TOKEN,
    '--allow-insecure-endpoints',
  ], {
    env: {
      ...env,
      // Quick retries, and enough of them that a slow run never exhausts them while the
      // receiver is down on purpose.
      SSF_MAX_ATTEMPTS: '100',
      SSF_RETRY_MIN_BACKOFF: '300ms',
      SSF_RETRY_MAX_BACKOFF: '1s',
      SSF_DELIVERY_POLL_INTERVAL: '100ms',
      RUST_LOG: process.env.RUST_LOG || 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ssf did not start in time:\n${log}`)), 60000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      // Only a whole line: stderr arrives in chunks, and one may end inside the URL.
      const match = /ssf listening on (\S+)\s/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1], log: () => log });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ssf exited with ${code}:\n${log}`));
    });
  });
}

async function stopServer() {
  if (!server || server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 15000);
  await exited;
  clearTimeout(timer);
}

// ---- helpers --------------------------------------------------------------------------------

async function adminApi(method, pathname, body) {
  const response = await fetch(`${base}/admin/api/v1${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${pathname}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function eventually(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}\n${server.log().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Transient notices are hidden so the pictures show the page itself.
async function shot(name) {
  await page.evaluate(() => { document.getElementById('notice').hidden = true; });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

// Reloads the current view until `locator` shows `text`.
async function untilShown(locator, text, timeoutMs = 20000) {
  await eventually(`${text} in the page`, async () => {
    await page.reload();
    await locator.first().waitFor({ timeout: 3000 });
    const content = await locator.allTextContents();
    return content.some((c) => c.includes(text));
  }, timeoutMs);
}

// ---- setup ----------------------------------------------------------------------------------

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ssf-ui-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  receiver = await startReceiver();
  server = await startServer(tmp);
  base = server.url.replace(/\/$/, '');
  // A fresh profile per run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  page = browser.pages()[0] || await browser.newPage();
  // Generous: the first page load after a build can be slow on a busy 2-core machine.
  page.setDefaultTimeout(30000);
  // Confirmations and the optional reason prompt are accepted, as an administrator would.
  page.on('dialog', (dialog) => dialog.accept(dialog.type() === 'prompt' ? 'maintenance window' : undefined));
  page.on('pageerror', (error) => pageProblems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
      pageProblems.push(`policy: ${message.text()}`);
    }
  });
});

after(async () => {
  if (browser) await browser.close();
  await stopServer();
  if (receiver) await receiver.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// ---- the tests (in order; each builds on the state the previous one left) ----------------------

let receiverToken;
let streamId;

test('the page is served with a strict policy and asks for the admin token', async () => {
  const response = await page.goto(`${base}/admin`);
  assert.equal(new URL(page.url()).pathname, '/admin/');
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await page.getByLabel('Admin token').waitFor();
  await shot('sign-in');

  await page.getByLabel('Admin token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#notice.notice-error').waitFor();
  assert.match(await page.locator('#notice').textContent(), /not accepted/);

  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Providers', exact: true }).waitFor();

  // The token lives in this tab's session only; no cookie is ever set.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ssf-admin-token')), ADMIN_TOKEN);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.deepEqual(await page.context().cookies(), []);
});

test('an administrator creates a provider and copies its configuration URL', async () => {
  const form = page.locator('#new-provider');
  await form.getByLabel('Name', { exact: true }).fill('Acme SSO');
  await form.getByLabel('Slug').fill('acme');
  await form.getByLabel('Event retention (seconds)').fill('86400');
  await form.getByRole('button', { name: 'Create provider' }).click();
  await page.getByRole('heading', { name: 'Acme SSO' }).waitFor();

  const configUrl = await page.locator('#config-url').inputValue();
  assert.equal(configUrl, `${base}/.well-known/ssf-configuration/ssf/acme`);
  const configuration = await (await fetch(configUrl)).json();
  assert.equal(configuration.issuer, `${base}/ssf/acme`);

  await page.getByRole('button', { name: 'Copy' }).first().click();
  await page.locator('#notice').waitFor();
});

test('a new receiver\u2019s token is shown once and works on the SSF API', async () => {
  await page.locator('#new-receiver').getByLabel('Receiver name').fill('Acme CRM');
  await page.getByRole('button', { name: 'Create receiver' }).click();
  const secret = page.locator('.secret input');
  await secret.waitFor();
  receiverToken = await secret.inputValue();
  assert.ok(receiverToken.length >= 20, 'a token is shown');
  await page.locator('#receivers').getByText('Acme CRM').first().waitFor();
  await shot('receiver-token');

  // Once: after a reload nothing shows the token any more.
  await page.reload();
  await page.locator('#receivers').getByText('Acme CRM').first().waitFor();
  assert.equal(await page.locator('.secret').count(), 0);
  assert.ok(!(await page.content()).includes(receiverToken));

  // The receiver creates its push stream through the SSF API.
  const response = await fetch(`${base}/ssf/acme/streams`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${receiverToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      delivery: { method: PUSH, endpoint_url: receiver.url },
      events_requested: [SESSION_REVOKED, CREDENTIAL_CHANGE],
      description: 'CRM sessions',
    }),
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  streamId = JSON.parse(text).stream_id;
  assert.ok(streamId);
});

test('the stream appears on the provider page, and an emitted event shows delivered', async () => {
  await page.reload();
  const row = page.locator(`#streams tr[data-stream="${streamId}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /enabled/);
  assert.match(await row.textContent(), /push/);
  assert.ok((await row.textContent()).includes(receiver.url));

  // Emit through the UI's form (the default template is a logout of alice@example.com).
  await page.getByRole('button', { name: 'Emit event' }).click();
  await page.locator('#emit-result').getByText('Event emitted').waitFor();
  await eventually('the SET at the receiver', () => acceptedOf(SESSION_REVOKED).length === 1);

  await untilShown(row.locator('.counts'), '1 delivered');
  await shot('provider');

  await row.getByRole('link', { name: streamId }).click();
  const events = page.locator('#events tbody tr[data-jti]');
  await events.first().waitFor();
  const jti = acceptedOf(SESSION_REVOKED)[0].claims.jti;
  const eventRow = page.locator(`#events tr[data-jti="${jti}"]`);
  assert.match(await eventRow.textContent(), /session-revoked/);
  assert.match(await eventRow.locator('.badge').textContent(), /delivered/);
  assert.equal((await eventRow.locator('td.error').textContent()).trim(), '', 'a delivered event shows no error');
  await shot('stream-events');
});

test('a rejecting receiver shows its last error, and retry works once it recovers', async () => {
  receiver.state.mode = 'reject';
  await adminApi('POST', `/providers/${await providerId()}/events`,
    { type: 'password.changed', user: { email: 'bob@example.com' } });
  const rejected = await eventually('the rejected push',
    () => receiver.state.received.find((r) => r.mode === 'reject'));
  const jti = rejected.claims.jti;

  // Filter to failed events: the rejected one is there with the receiver's error.
  await page.locator('#event-filter').selectOption('failed');
  const failedRow = page.locator(`#events tr[data-jti="${jti}"]`);
  await untilShown(page.locator(`#events tr[data-jti="${jti}"] .badge`), 'failed');
  assert.match(await failedRow.textContent(), /400|invalid_key/);
  assert.match(await page.locator('#stream-last-error').textContent(), /400|invalid_key/);

  await failedRow.getByRole('button', { name: 'Attempts' }).click();
  const attempts = page.locator('table.attempts tbody tr');
  await attempts.first().waitFor();
  assert.match(await attempts.first().textContent(), /permanent/);
  assert.match(await attempts.first().textContent(), /400/);
  await shot('event-attempts');

  receiver.state.mode = 'ok';
  await page.getByRole('button', { name: 'Retry all failed' }).click();
  await eventually('the redriven SET', () => acceptedOf(CREDENTIAL_CHANGE).some((r) => r.claims.jti === jti));
  await page.locator('#event-filter').selectOption('');
  await untilShown(page.locator(`#events tr[data-jti="${jti}"] .badge`), 'delivered');
});

test('an unavailable receiver is retried on schedule and shows its last error meanwhile', async () => {
  receiver.state.mode = 'unavailable';
  await adminApi('POST', `/providers/${await providerId()}/events`,
    { type: 'session.revoked', user: { email: 'carol@example.com' } });
  const first = await eventually('the push to the unavailable receiver',
    () => receiver.state.received.find((r) => r.mode === 'unavailable'));
  await untilShown(page.locator(`#events tr[data-jti="${first.claims.jti}"]`), '503');
  receiver.state.mode = 'ok';
  await eventually('delivery after recovery',
    () => acceptedOf(SESSION_REVOKED).some((r) => r.claims.jti === first.claims.jti));
  await untilShown(page.locator(`#events tr[data-jti="${first.claims.jti}"] .badge`), 'delivered');
});

test('pausing holds events and enabling delivers them', async () => {
  await page.reload();
  await page.locator('#stream').getByRole('button', { name: 'Pause' }).click();
  await page.locator('#stream .badge').getByText('paused').waitFor();
  const before = acceptedOf(SESSION_REVOKED).length;
  await adminApi('POST', `/providers/${await providerId()}/events`,
    { type: 'session.logout', user: { email: 'dave@example.com' } });
  await untilShown(page.locator('#events .badge'), 'held');
  assert.equal(acceptedOf(SESSION_REVOKED).length, before, 'nothing is pushed while paused');

  await page.locator('#stream').getByRole('button', { name: 'Enable' }).click();
  await page.locator('#stream .badge').getByText('enabled').waitFor();
  await eventually('the held SET after enabling', () => acceptedOf(SESSION_REVOKED).length === before + 1);
});

test('the dashboard charts deliveries and failures of the last hour', async () => {
  await page.goto(`${base}/admin/#/providers`);
  const totals = page.locator('#stats-totals');
  await totals.waitFor();
  const text = await totals.textContent();
  const delivered = Number(/(\d+) delivered/.exec(text)[1]);
  const failed = Number(/(\d+) failed/.exec(text)[1]);
  assert.ok(delivered >= 4, `delivered: ${text}`);
  assert.ok(failed >= 1, `failed: ${text}`);
  assert.ok(await page.locator('svg.chart rect.bar-delivered').count() >= 1);
  await page.locator('#providers').getByText('Acme SSO').waitFor();
  await shot('providers');
});

test('settings, key rotation and revocation take effect', async () => {
  const pid = await providerId();
  await page.goto(`${base}/admin/#/providers/${pid}`);
  const form = page.locator('#edit-provider');
  await form.getByLabel('Event retention (seconds)').fill('3600');
  await form.getByLabel('Subject format').selectOption('iss_sub');
  await form.getByLabel('IdP issuer').fill('https://idp.example.com');
  await form.getByText('Verify receivers').click();
  await form.getByRole('button', { name: 'Save settings' }).click();
  await eventually('the saved settings', async () => {
    const provider = await adminApi('GET', `/providers/${pid}`);
    return provider.event_retention_seconds === 3600 && provider.subject_format === 'iss_sub'
      && provider.verify_tls === false;
  });

  await page.reload();
  const keyRows = page.locator('#keys tbody tr');
  await keyRows.first().waitFor();
  const keysBefore = await keyRows.count();
  await page.getByRole('button', { name: 'Rotate signing key' }).click();
  await eventually('a new key in the list', async () => (await keyRows.count()) === keysBefore + 1);

  await page.locator('#receivers').getByRole('button', { name: 'Revoke' }).click();
  await page.locator('#receivers').getByText('revoked').waitFor();
  const denied = await fetch(`${base}/ssf/acme/streams`, { headers: { Authorization: `Bearer ${receiverToken}` } });
  assert.equal(denied.status, 401);
});

test('names with markup are shown as text, never run', async () => {
  const name = '<img src=x onerror="window.__pwned=1">';
  await page.goto(`${base}/admin/#/providers`);
  const form = page.locator('#new-provider');
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByRole('button', { name: 'Create provider' }).click();
  await page.getByRole('heading', { name }).waitFor();
  await page.goto(`${base}/admin/#/providers`);
  await page.locator('#providers').getByText(name).waitFor();
  assert.equal(await page.locator('#view img').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
});

test('signing out forgets the token', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ssf-admin-token')), null);
});

let cachedProviderId;
async function providerId() {
  if (!cachedProviderId) {
    const list = await adminApi('GET', '/providers');
    const items = Array.isArray(list) ? list : list.items || list.data;
    cachedProviderId = items.find((p) => p.slug === 'acme').id;
  }
  return cachedProviderId;
}

test('the page raised no script error and violated no policy', () => {
  assert.deepEqual(pageProblems, []);
});
