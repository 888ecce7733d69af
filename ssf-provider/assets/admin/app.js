// The SSF admin UI: a single-page app over the admin JSON API (api/v1, relative to this page).
//
// Security rules this file keeps (docs/admin-ui.md):
// - every piece of data becomes a text node (textContent) or an attribute value; strings are
//   never parsed as markup;
// - the admin token lives in sessionStorage only and travels as a bearer header; no cookies;
// - no inline code: the page's Content-Security-Policy allows only this script.
'use strict';

(() => {
  const API = 'api/v1';
  const TOKEN_KEY = 'ssf-admin-token';
  const EVENT_STATUSES = ['pending', 'held', 'delivered', 'failed', 'expired'];
  const STATS_REFRESH_MS = 10000;
  const EVENTS_PAGE = 50;

  // ---- DOM construction -------------------------------------------------------------------

  // h('button', {class: 'x', onclick: f, disabled: true}, 'text', childNode, [more])
  // Strings become text nodes; attributes are set with setAttribute, never parsed.
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    applyProps(el, props);
    append(el, children);
    return el;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function s(tag, props, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    applyProps(el, props);
    append(el, children);
    return el;
  }

  function applyProps(el, props) {
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on') && typeof value === 'function') {
        el.addEventListener(name.slice(2), value);
      } else if (name === 'value' && 'value' in el) {
        el.value = value;
      } else if (name === 'checked' && 'checked' in el) {
        el.checked = Boolean(value);
      } else {
        el.setAttribute(name, value === true ? '' : String(value));
      }
    }
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  const $ = (id) => document.getElementById(id);

  // ---- formatting ---------------------------------------------------------------------------

  function fmtTime(value) {
    if (value === undefined || value === null || value === '') return '—';
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    const pad = (n) => String(n).padStart(2, '0');
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
      `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  function fmtDuration(seconds) {
    if (seconds === undefined || seconds === null) return '—';
    const units = [[86400, 'd'], [3600, 'h'], [60, 'min']];
    for (const [size, name] of units) {
      if (seconds >= size && seconds % size === 0) return `${seconds / size} ${name}`;
    }
    return `${seconds} s`;
  }

  // 'https://schemas.openid.net/secevent/caep/event-type/session-revoked' -> 'session-revoked'
  function shortEventType(uri) {
    const text = String(uri || '');
    return text.slice(text.lastIndexOf('/') + 1) || text;
  }

  function statusBadge(status) {
    return h('span', { class: `badge badge-${String(status || 'unknown').replace(/[^a-z_]/g, '')}` },
      String(status || 'unknown'));
  }

  // ---- the admin API ------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      const description = body && (body.description || body.error);
      super(description ? String(description) : `the server answered ${status}`);
      this.status = status;
    }
  }

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  async function api(method, path, body) {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${token() || ''}` };
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${API}${path}`, init);
    } catch {
      throw new ApiError(0, { description: 'the server cannot be reached' });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = { description: text.slice(0, 200) }; }
    }
    if (response.status === 401) {
      signOut('The admin token was not accepted. Sign in again.');
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // Lists come as an array, event pages as {events: [...], next_cursor}.
  function itemsOf(data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.events)) return data.events;
    return [];
  }

  const q = (value) => encodeURIComponent(value);

  // ---- notices and actions --------------------------------------------------------------------

  let noticeTimer;
  function notify(message, kind = 'ok') {
    const notice = $('notice');
    notice.className = `notice notice-${kind}`;
    notice.textContent = message;
    notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { notice.hidden = true; }, kind === 'error' ? 10000 : 4000);
  }

  // Runs an API action from a button: disables it meanwhile, reports failures, re-renders.
  async function act(button, action, success) {
    if (button) button.disabled = true;
    try {
      await action();
      if (success) notify(success);
      return true;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) notify(error.message, 'error');
      return false;
    } finally {
      if (button) button.disabled = false;
    }
  }

  function copyButton(getText) {
    return h('button', {
      type: 'button',
      class: 'secondary',
      onclick: async (event) => {
        const text = getText();
        try {
          await navigator.clipboard.writeText(text);
          notify('Copied to the clipboard.');
        } catch {
          // Clipboard access needs a secure context; select the text for a manual copy instead.
          const field = event.target.previousElementSibling;
          if (field && field.select) field.select();
          notify('Press Ctrl+C to copy the selected text.');
        }
      },
    }, 'Copy');
  }

  function secretBox(title, secret, note) {
    const box = h('div', { class: 'secret', role: 'alert' },
      h('strong', {}, title),
      h('p', {}, note),
      h('div', { class: 'copy-row' },
        h('input', { type: 'text', readonly: true, value: secret, class: 'mono', 'aria-label': title }),
        copyButton(() => secret)),
      h('button', { type: 'button', class: 'secondary', onclick: () => box.remove() }, 'I have stored it'));
    return box;
  }

  // ---- forms --------------------------------------------------------------------------------

  // A labelled input; the help text describes it without becoming part of its name.
  let fieldIds = 0;
  function field(label, input, help) {
    if (!input.id) input.id = `field-${++fieldIds}`;
    const note = help ? h('small', { id: `${input.id}-help` }, help) : null;
    if (note) input.setAttribute('aria-describedby', note.id);
    return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, note);
  }

  function select(name, options, value) {
    return h('select', { name },
      options.map(([optionValue, text]) =>
        h('option', { value: optionValue, selected: optionValue === value }, text)));
  }

  function numberOrNull(text) {
    const trimmed = String(text).trim();
    return trimmed === '' ? null : Number(trimmed);
  }

  function providerFields(provider) {
    const p = provider || {};
    return [
      field('Signing algorithm', select('signing_alg',
        [['RS256', 'RS256'], ['PS256', 'PS256'], ['ES256', 'ES256'], ['EdDSA', 'EdDSA']],
        p.signing_alg || 'RS256')),
      field('Event retention (seconds)', h('input', {
        name: 'event_retention_seconds', type: 'number', min: 1, required: true,
        value: p.event_retention_seconds ?? 2592000,
      }), 'How long an undelivered SET is kept; each failed attempt extends it.'),
      field('Default subjects', select('default_subjects',
        [['ALL', 'ALL (unless removed)'], ['NONE', 'NONE (only if added)']],
        p.default_subjects || 'ALL')),
      field('Subject format', select('subject_format',
        [['email', 'email'], ['iss_sub', 'iss_sub (issuer + subject)']], p.subject_format || 'email')),
      field('IdP issuer', h('input', { name: 'idp_issuer', type: 'url', value: p.idp_issuer || '' }),
        'Needed for iss_sub subjects.'),
      h('label', { class: 'check' },
        h('input', { name: 'verify_tls', type: 'checkbox', checked: p.verify_tls ?? true }),
        ' Verify receivers\u2019 TLS certificates'),
      field('Minimum verification interval (seconds)', h('input', {
        name: 'min_verification_interval_seconds', type: 'number', min: 0,
        value: p.min_verification_interval_seconds ?? 30,
      })),
      field('Inactivity timeout (seconds)', h('input', {
        name: 'inactivity_timeout_seconds', type: 'number', min: 1,
        value: p.inactivity_timeout_seconds ?? '',
      }), 'Pause streams without receiver activity for this long; empty never pauses.'),
    ];
  }

  // The form's values; when editing, only those that differ from `current` (some settings,
  // such as default_subjects, are fixed once the provider has streams).
  function providerBody(form, current) {
    const v = (name) => form.elements[name].value;
    const body = {
      event_retention_seconds: numberOrNull(v('event_retention_seconds')),
      default_subjects: v('default_subjects'),
      subject_format: v('subject_format'),
      idp_issuer: v('idp_issuer').trim() || null,
      verify_tls: form.elements.verify_tls.checked,
      min_verification_interval_seconds: numberOrNull(v('min_verification_interval_seconds')),
      inactivity_timeout_seconds: numberOrNull(v('inactivity_timeout_seconds')),
      name: v('name').trim(),
    };
    if (!current) {
      body.signing_alg = v('signing_alg');
      const slug = v('slug').trim();
      if (slug) body.slug = slug;
      return body;
    }
    return Object.fromEntries(Object.entries(body).filter(([key, value]) => (current[key] ?? null) !== value));
  }

  // ---- routing ------------------------------------------------------------------------------

  // Timers of the current view; cleared when the view changes.
  let timers = [];
  function every(ms, fn) {
    timers.push(setInterval(fn, ms));
  }

  const routes = [
    [/^#\/providers\/([^/]+)\/streams\/([^/]+)$/, streamView],
    [/^#\/providers\/([^/]+)$/, providerView],
    [/^#\/providers$/, providersView],
  ];

  function crumbs(...links) {
    $('crumbs').replaceChildren(...links.flatMap(([text, href], i) => [
      i ? h('span', { class: 'sep', 'aria-hidden': 'true' }, '/') : null,
      href ? h('a', { href }, text) : h('span', { 'aria-current': 'page' }, text),
    ]).filter(Boolean));
  }

  async function route() {
    timers.forEach(clearInterval);
    timers = [];
    if (!token()) return signInView();
    $('sign-out').hidden = false;
    const [hash, query] = (location.hash || '#/providers').split('?');
    for (const [pattern, view] of routes) {
      const match = pattern.exec(hash);
      if (match) {
        const args = match.slice(1).map(decodeURIComponent);
        try {
          return await view(...args, new URLSearchParams(query || ''));
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) return undefined;
          crumbs(['Providers', '#/providers']);
          return render(h('section', { class: 'card' },
            h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, error.message),
            h('a', { href: '#/providers' }, 'Back to providers')));
        }
      }
    }
    location.hash = '#/providers';
    return undefined;
  }

  function render(...nodes) {
    $('view').replaceChildren(...nodes);
  }

  // Re-render the current view, keeping scroll position.
  const refresh = () => { const y = window.scrollY; return route().then(() => window.scrollTo(0, y)); };

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    route();
    if (message) notify(message, 'error');
  }

  // ---- sign-in ------------------------------------------------------------------------------

  function signInView() {
    $('sign-out').hidden = true;
    $('crumbs').replaceChildren();
    const input = h('input', {
      name: 'token', type: 'password', required: true, autocomplete: 'current-password', class: 'mono',
    });
    const form = h('form', {
      class: 'card narrow',
      onsubmit: async (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        try {
          await api('GET', '/providers');
          route();
        } catch (error) {
          if (!(error instanceof ApiError && error.status === 401)) {
            sessionStorage.removeItem(TOKEN_KEY);
            notify(error.message, 'error');
          }
        }
      },
    },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Enter the admin token of this server (the --admin-token option or SSF_ADMIN_TOKEN). ' +
      'It is kept in this tab only, until you sign out or close it.'),
    field('Admin token', input),
    h('button', { type: 'submit' }, 'Sign in'));
    render(form);
    input.focus();
  }

  // ---- providers ----------------------------------------------------------------------------

  async function providersView() {
    crumbs(['Providers']);
    const providers = itemsOf(await api('GET', '/providers'));
    const chart = h('div', { class: 'chart-box' }, h('p', { class: 'muted' }, 'Loading…'));
    const drawStats = async () => {
      try {
        chart.replaceChildren(statsChart(await api('GET', '/stats?window=3600')));
      } catch (error) {
        chart.replaceChildren(h('p', { class: 'error' }, `Delivery statistics unavailable: ${error.message}`));
      }
    };
    drawStats();
    every(STATS_REFRESH_MS, drawStats);

    const rows = providers.map((p) => h('tr', {},
      h('td', {}, h('a', { href: `#/providers/${q(p.id)}` }, p.name)),
      h('td', { class: 'mono' }, p.slug),
      h('td', { class: 'mono wrap' }, p.issuer),
      h('td', {}, p.signing_alg),
      h('td', {}, p.subject_format),
      h('td', {}, fmtDuration(p.event_retention_seconds)),
      h('td', {}, p.verify_tls ? 'yes' : h('strong', { class: 'warn' }, 'no')),
      h('td', {}, String(p.receivers)),
      h('td', {}, String(p.streams)),
      h('td', {}, fmtTime(p.created_at))));

    render(
      h('section', { class: 'card' },
        h('h2', {}, 'Deliveries, last hour'),
        chart),
      h('section', { class: 'card' },
        h('h1', {}, 'Providers'),
        providers.length
          ? h('table', { id: 'providers' },
            h('thead', {}, h('tr', {}, ['Name', 'Slug', 'Issuer', 'Algorithm', 'Subjects', 'Retention',
              'TLS verified', 'Receivers', 'Streams', 'Created'].map((t) => h('th', {}, t)))),
            h('tbody', {}, rows))
          : h('p', { class: 'muted' }, 'No provider yet. Create one below.')),
      newProviderForm());
  }

  function newProviderForm() {
    const form = h('form', {
      class: 'card',
      id: 'new-provider',
      onsubmit: async (event) => {
        event.preventDefault();
        let created;
        const ok = await act(event.submitter, async () => {
          created = await api('POST', '/providers', providerBody(form, null));
        }, 'Provider created.');
        if (ok && created && created.id) location.hash = `#/providers/${q(created.id)}`;
      },
    },
    h('h2', {}, 'New provider'),
    h('div', { class: 'grid' },
      field('Name', h('input', { name: 'name', required: true, maxlength: 200 })),
      field('Slug', h('input', { name: 'slug', pattern: '[a-z0-9]([a-z0-9-]*[a-z0-9])?', maxlength: 48 }),
        'Path segment of the issuer; derived from the name when empty.'),
      providerFields(null)),
    h('button', { type: 'submit' }, 'Create provider'));
    return form;
  }

  // The /stats answer: {delivered, failed, minutes: [{minute, delivered, failed}]}.
  function statsBuckets(stats) {
    return ((stats && stats.minutes) || []).map((b) => ({
      start: b.minute,
      delivered: Number(b.delivered) || 0,
      failed: Number(b.failed) || 0,
    }));
  }

  // A stacked bar per minute: delivered (below) and failed (above).
  function statsChart(stats) {
    const buckets = statsBuckets(stats);
    const { delivered, failed } = stats;
    const width = 720;
    const height = 140;
    const top = 12;
    const bottom = 20;
    const plot = height - top - bottom;
    const max = Math.max(1, ...buckets.map((b) => b.delivered + b.failed));
    const slot = width / Math.max(buckets.length, 60);
    const bar = Math.max(1, slot - 2);
    const bars = buckets.flatMap((b, i) => {
      const x = i * slot + 1;
      const dh = (b.delivered / max) * plot;
      const fh = (b.failed / max) * plot;
      const label = `${fmtTime(b.start)}: ${b.delivered} delivered, ${b.failed} failed`;
      return [
        b.delivered ? s('rect', { x, y: top + plot - dh, width: bar, height: dh, class: 'bar-delivered' },
          s('title', {}, label)) : null,
        b.failed ? s('rect', { x, y: top + plot - dh - fh, width: bar, height: fh, class: 'bar-failed' },
          s('title', {}, label)) : null,
      ];
    });
    const svg = s('svg', {
      viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
      'aria-label': `Deliveries per minute over the last hour: ${delivered} delivered, ${failed} failed`,
    },
    s('line', { x1: 0, x2: width, y1: top + plot, y2: top + plot, class: 'axis' }),
    s('text', { x: 0, y: 10, class: 'axis-label' }, `${max} / min`),
    s('text', { x: 0, y: height - 4, class: 'axis-label' }, '60 min ago'),
    s('text', { x: width, y: height - 4, class: 'axis-label end' }, 'now'),
    bars);
    return h('div', {},
      h('p', { class: 'totals', id: 'stats-totals' },
        h('span', { class: 'swatch swatch-delivered' }), ` ${delivered} delivered `,
        h('span', { class: 'swatch swatch-failed' }), ` ${failed} failed`),
      svg);
  }

  // ---- one provider -------------------------------------------------------------------------

  async function providerView(pid) {
    const [provider, receivers, streams, keys] = await Promise.all([
      api('GET', `/providers/${q(pid)}`),
      api('GET', `/providers/${q(pid)}/receivers`).then(itemsOf),
      api('GET', `/providers/${q(pid)}/streams`).then(itemsOf),
      api('GET', `/providers/${q(pid)}/keys`).then(itemsOf).catch(() => null),
    ]);
    crumbs(['Providers', '#/providers'], [provider.name]);
    const configUrl = provider.configuration_url;
    render(
      h('section', { class: 'card' },
        h('h1', {}, provider.name),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Issuer'), h('dd', { class: 'mono' }, provider.issuer),
          h('dt', {}, 'Configuration URL'),
          h('dd', {}, h('div', { class: 'copy-row' },
            h('input', { type: 'text', readonly: true, value: configUrl, class: 'mono', id: 'config-url',
              'aria-label': 'Configuration URL' }),
            copyButton(() => configUrl))),
          h('dt', {}, 'JWKS'), h('dd', { class: 'mono' }, provider.jwks_uri || '—'),
          h('dt', {}, 'Signing algorithm'), h('dd', {}, provider.signing_alg,
            provider.active_kid ? h('span', { class: 'muted' }, ` (key ${provider.active_kid})`) : null),
          h('dt', {}, 'Default subjects'), h('dd', {}, provider.default_subjects),
          h('dt', {}, 'Created'), h('dd', {}, fmtTime(provider.created_at)))),
      streamsSection(pid, streams),
      receiversSection(pid, receivers),
      emitSection(pid),
      keysSection(pid, keys),
      editProviderForm(provider));
  }

  function streamCounts(stream) {
    const counts = stream.counts || {};
    return h('span', { class: 'counts' },
      EVENT_STATUSES.filter((st) => counts[st]).map((st) =>
        h('span', { class: `count count-${st}`, title: st }, `${counts[st]} ${st}`)),
      EVENT_STATUSES.some((st) => counts[st]) ? null : h('span', { class: 'muted' }, 'no events'));
  }

  // The stream's latest failed attempt, e.g. 'HTTP 400: invalid_key (2025-01-01 10:00:00)'.
  function streamLastError(stream) {
    if (!stream.last_error) return '';
    const status = stream.last_error_http_status;
    const prefix = status && !String(stream.last_error).startsWith('HTTP') ? `HTTP ${status}: ` : '';
    return `${prefix}${stream.last_error} (${fmtTime(stream.last_error_at)})`;
  }

  function streamStatusButtons(stream, after) {
    const change = (status) => async (event) => {
      const reason = status === 'enabled' ? null
        : window.prompt(`Reason for setting the stream ${status} (optional):`, '');
      if (reason === null && status !== 'enabled') return;
      const ok = await act(event.target, () => api('PATCH', `/streams/${q(stream.id)}`,
        { status, reason: reason || null }), `Stream ${status}.`);
      if (ok) after();
    };
    const status = stream.status;
    return h('span', { class: 'actions' },
      status !== 'enabled' ? h('button', { type: 'button', class: 'small', onclick: change('enabled') }, 'Enable') : null,
      status === 'enabled' ? h('button', { type: 'button', class: 'small secondary', onclick: change('paused') }, 'Pause') : null,
      status !== 'disabled' ? h('button', { type: 'button', class: 'small danger', onclick: change('disabled') }, 'Disable') : null);
  }

  function streamsSection(pid, streams) {
    const rows = streams.map((st) => h('tr', { 'data-stream': st.id },
      h('td', { class: 'mono' }, h('a', { href: `#/providers/${q(pid)}/streams/${q(st.id)}` }, st.id)),
      h('td', {}, statusBadge(st.status), st.status_reason ? h('div', { class: 'muted' }, st.status_reason) : null),
      h('td', {}, st.delivery_method),
      h('td', { class: 'mono wrap' }, st.endpoint_url || '—'),
      h('td', {}, streamCounts(st)),
      h('td', { class: 'error wrap' }, streamLastError(st)),
      h('td', {}, streamStatusButtons(st, refresh))));
    return h('section', { class: 'card' },
      h('h2', {}, 'Streams'),
      streams.length
        ? h('table', { id: 'streams' },
          h('thead', {}, h('tr', {}, ['Stream', 'Status', 'Method', 'Endpoint', 'Events', 'Last error', '']
            .map((t) => h('th', {}, t)))),
          h('tbody', {}, rows))
        : h('p', { class: 'muted' },
          'No stream yet. Receivers create streams through the SSF API with their token.'));
  }

  function receiversSection(pid, receivers) {
    const shown = h('div', { class: 'secret-slot' });
    const rows = receivers.map((r) => h('tr', { 'data-receiver': r.id },
      h('td', {}, r.name),
      h('td', { class: 'mono' }, r.id),
      h('td', {}, fmtTime(r.created_at)),
      h('td', {}, fmtTime(r.last_seen_at)),
      h('td', {}, r.revoked_at ? h('span', { class: 'badge badge-disabled' }, `revoked ${fmtTime(r.revoked_at)}`)
        : h('span', { class: 'actions' },
          h('button', {
            type: 'button',
            class: 'small secondary',
            onclick: async (event) => {
              if (!window.confirm(`Issue a new token for ${r.name}? The current token stops working.`)) return;
              let issued;
              const ok = await act(event.target, async () => {
                issued = await api('POST', `/providers/${q(pid)}/receivers/${q(r.id)}/token`, {});
              }, 'New token issued.');
              if (ok) shown.replaceChildren(tokenBox(r.name, issued));
            },
          }, 'New token'),
          h('button', {
            type: 'button',
            class: 'small danger',
            onclick: async (event) => {
              if (!window.confirm(`Revoke ${r.name}? Its token stops working at once.`)) return;
              if (await act(event.target, () => api('DELETE', `/providers/${q(pid)}/receivers/${q(r.id)}`),
                'Receiver revoked.')) refresh();
            },
          }, 'Revoke')))));
    const name = h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'e.g. Acme CRM' });
    const form = h('form', {
      class: 'inline',
      id: 'new-receiver',
      onsubmit: async (event) => {
        event.preventDefault();
        let created;
        const ok = await act(event.submitter, async () => {
          created = await api('POST', `/providers/${q(pid)}/receivers`, { name: name.value.trim() });
        }, 'Receiver created.');
        if (!ok) return;
        // Re-render the list, then show the token once above it.
        await refresh();
        const slot = document.querySelector('.secret-slot');
        if (slot) slot.replaceChildren(tokenBox(name.value.trim() || 'the receiver', created));
      },
    }, field('Receiver name', name), h('button', { type: 'submit' }, 'Create receiver'));
    return h('section', { class: 'card', id: 'receivers' },
      h('h2', {}, 'Receivers'),
      shown,
      receivers.length
        ? h('table', {},
          h('thead', {}, h('tr', {}, ['Name', 'Id', 'Created', 'Last seen', ''].map((t) => h('th', {}, t)))),
          h('tbody', {}, rows))
        : h('p', { class: 'muted' }, 'No receiver yet.'),
      form);
  }

  function tokenBox(name, issued) {
    return secretBox(`Token for ${name}`, (issued && issued.token) || '',
      'This token is shown once and cannot be read again. Give it to the receiver now; ' +
      'it sends it as a bearer token to this provider\u2019s SSF API.');
  }

  const EVENT_TEMPLATES = {
    'session.logout': { type: 'session.logout', user: { email: 'alice@example.com' } },
    'session.revoked': { type: 'session.revoked', user: { email: 'alice@example.com' } },
    'password.changed': { type: 'password.changed', user: { email: 'alice@example.com' } },
    'account.disabled': { type: 'account.disabled', user: { email: 'alice@example.com' } },
    'account.enabled': { type: 'account.enabled', user: { email: 'alice@example.com' } },
    'mfa.added': { type: 'mfa.added', user: { email: 'alice@example.com' }, device: { kind: 'totp' } },
  };

  function emitSection(pid) {
    const text = h('textarea', { name: 'event', rows: 8, class: 'mono', spellcheck: 'false' });
    text.value = JSON.stringify(EVENT_TEMPLATES['session.logout'], null, 2);
    const template = select('template', Object.keys(EVENT_TEMPLATES).map((k) => [k, k]), 'session.logout');
    template.addEventListener('change', () => {
      text.value = JSON.stringify(EVENT_TEMPLATES[template.value], null, 2);
    });
    const result = h('p', { class: 'muted', id: 'emit-result' });
    const form = h('form', {
      id: 'emit',
      onsubmit: async (event) => {
        event.preventDefault();
        let parsed;
        try {
          parsed = JSON.parse(text.value);
        } catch (error) {
          notify(`The event is not valid JSON: ${error.message}`, 'error');
          return;
        }
        let answer;
        const ok = await act(event.submitter, async () => {
          answer = await api('POST', `/providers/${q(pid)}/events`, parsed);
        });
        if (ok) {
          // {txn, stream_events}: one SET per stream that asked for the event and covers the user.
          const count = answer ? answer.stream_events : 0;
          result.textContent = `Event emitted: ${count} SET(s) recorded` + (answer && answer.txn ? ` (txn ${answer.txn}).` : '.');
          notify(result.textContent);
        }
      },
    },
    field('Template', template),
    field('IdP event (JSON)', text, 'As the IdP reports it; docs/events.md lists every type and its fields.'),
    h('button', { type: 'submit' }, 'Emit event'),
    result);
    return h('section', { class: 'card' }, h('h2', {}, 'Emit a test event'), form);
  }

  function keysSection(pid, keys) {
    const rotate = h('button', {
      type: 'button',
      class: 'secondary',
      id: 'rotate-key',
      onclick: async (event) => {
        if (!window.confirm('Rotate the signing key? The current key stays published until its grace period ends.')) return;
        if (await act(event.target, () => api('POST', `/providers/${q(pid)}/keys/rotate`, {}), 'Signing key rotated.')) refresh();
      },
    }, 'Rotate signing key');
    return h('section', { class: 'card' },
      h('h2', {}, 'Signing keys'),
      keys === null ? h('p', { class: 'muted' }, 'The key list is unavailable.')
        : h('table', { id: 'keys' },
          h('thead', {}, h('tr', {}, ['Key id', 'Algorithm', 'State', 'Created', 'Retire after']
            .map((t) => h('th', {}, t)))),
          h('tbody', {}, keys.map((k) => h('tr', {},
            h('td', { class: 'mono' }, k.kid),
            h('td', {}, k.alg),
            h('td', {}, statusBadge(k.state)),
            h('td', {}, fmtTime(k.created_at)),
            h('td', {}, fmtTime(k.retire_after)))))),
      rotate);
  }

  function editProviderForm(provider) {
    const form = h('form', {
      class: 'card',
      id: 'edit-provider',
      onsubmit: async (event) => {
        event.preventDefault();
        const changes = providerBody(form, provider);
        if (!Object.keys(changes).length) {
          notify('Nothing changed.');
          return;
        }
        if (await act(event.submitter, () => api('PATCH', `/providers/${q(provider.id)}`, changes),
          'Provider saved.')) refresh();
      },
    },
    h('h2', {}, 'Settings'),
    h('div', { class: 'grid' },
      field('Name', h('input', { name: 'name', required: true, maxlength: 200, value: provider.name })),
      // The algorithm of existing keys is fixed; rotation uses the provider's algorithm.
      providerFields(provider).filter((_, i) => i !== 0)),
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Save settings'),
      h('button', {
        type: 'button',
        class: 'danger',
        onclick: async (event) => {
          if (!window.confirm(`Delete ${provider.name}? Its streams are disabled and its receivers stop working.`)) return;
          if (await act(event.target, () => api('DELETE', `/providers/${q(provider.id)}`), 'Provider deleted.')) {
            location.hash = '#/providers';
          }
        },
      }, 'Delete provider')));
    return form;
  }

  // ---- one stream ---------------------------------------------------------------------------

  // The status filter is part of the address (#/providers/P/streams/S?status=failed), so a
  // reload or a bookmark keeps it.
  async function streamView(pid, sid, params) {
    const filter = EVENT_STATUSES.includes(params.get('status')) ? params.get('status') : '';
    const [provider, stream] = await Promise.all([
      api('GET', `/providers/${q(pid)}`),
      api('GET', `/streams/${q(sid)}`),
    ]);
    crumbs(['Providers', '#/providers'], [provider.name, `#/providers/${q(pid)}`], [`Stream ${sid}`]);

    const tbody = h('tbody', {});
    const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
    let cursor = null;
    const load = async () => {
      const query = new URLSearchParams({ limit: String(EVENTS_PAGE) });
      if (filter) query.set('status', filter);
      if (cursor) query.set('cursor', cursor);
      const page = await api('GET', `/streams/${q(sid)}/events?${query}`);
      tbody.append(...itemsOf(page).map((ev) => eventRows(sid, ev)).flat());
      cursor = page && page.next_cursor;
      more.hidden = !cursor;
      if (!tbody.children.length) {
        tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No event.')));
      }
    };
    more.addEventListener('click', () => act(more, load));

    const filterSelect = select('status',
      [['', 'all'], ...EVENT_STATUSES.map((st) => [st, st])], filter);
    filterSelect.id = 'event-filter';
    filterSelect.addEventListener('change', () => {
      const here = `#/providers/${q(pid)}/streams/${q(sid)}`;
      location.hash = filterSelect.value ? `${here}?status=${q(filterSelect.value)}` : here;
    });

    const retryFailed = h('button', {
      type: 'button',
      id: 'retry-failed',
      onclick: async (event) => {
        let answer;
        const ok = await act(event.target, async () => {
          answer = await api('POST', `/streams/${q(sid)}/retry-failed`, {});
        });
        if (ok) {
          // {retried, remaining}: a bulk redrive is bounded; the rest needs another click.
          const more = answer.remaining ? `; ${answer.remaining} more remain, click again` : '';
          notify(`${answer.retried} failed event(s) scheduled again${more}.`);
          refresh();
        }
      },
    }, 'Retry all failed');

    render(
      h('section', { class: 'card', id: 'stream' },
        h('h1', {}, 'Stream ', h('span', { class: 'mono' }, sid)),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Status'), h('dd', {}, statusBadge(stream.status), ' ',
            stream.status_reason ? h('span', { class: 'muted' }, stream.status_reason) : null, ' ',
            streamStatusButtons(stream, refresh)),
          h('dt', {}, 'Delivery'), h('dd', {}, stream.delivery_method),
          h('dt', {}, 'Endpoint'), h('dd', { class: 'mono wrap' }, stream.endpoint_url || '—'),
          h('dt', {}, 'Events'), h('dd', {}, streamCounts(stream)),
          h('dt', {}, 'Last error'), h('dd', { class: stream.last_error ? 'error wrap' : 'muted', id: 'stream-last-error' },
            streamLastError(stream) || 'none'))),
      h('section', { class: 'card' },
        h('div', { class: 'toolbar' },
          h('h2', {}, 'Events'),
          field('Status', filterSelect),
          h('button', { type: 'button', class: 'secondary', onclick: () => refresh() }, 'Refresh'),
          retryFailed),
        h('table', { id: 'events' },
          h('thead', {}, h('tr', {}, ['Event id (jti)', 'Type', 'Status', 'Attempts', 'Last error', 'Created', '']
            .map((t) => h('th', {}, t)))),
          tbody),
        more));
    await load();
  }

  function eventRows(sid, ev) {
    const detail = h('tr', { class: 'detail', hidden: true }, h('td', { colspan: 7 }));
    // Why the event is not delivered (yet); a delivered event's history is in its attempts.
    const lastError = ev.status === 'delivered' ? ''
      : [ev.last_http_status ? `HTTP ${ev.last_http_status}` : null, ev.last_error].filter(Boolean).join(': ');
    const showAttempts = h('button', {
      type: 'button',
      class: 'small secondary',
      onclick: async (event) => {
        if (!detail.hidden) { detail.hidden = true; return; }
        await act(event.target, async () => {
          const attempts = itemsOf(await api('GET', `/streams/${q(sid)}/events/${q(ev.jti)}/attempts`));
          detail.firstChild.replaceChildren(attemptsTable(attempts));
          detail.hidden = false;
        });
      },
    }, 'Attempts');
    const retry = ['failed', 'expired'].includes(ev.status) ? h('button', {
      type: 'button',
      class: 'small',
      onclick: async (event) => {
        if (await act(event.target, () => api('POST', `/streams/${q(sid)}/events/${q(ev.jti)}/retry`, {}),
          'Event scheduled again.')) refresh();
      },
    }, 'Retry') : null;
    const row = h('tr', { 'data-jti': ev.jti },
      h('td', { class: 'mono' }, ev.jti),
      h('td', { title: ev.event_type }, shortEventType(ev.event_type)),
      h('td', {}, statusBadge(ev.status)),
      h('td', {}, String(ev.attempts)),
      h('td', { class: 'error wrap' }, lastError),
      h('td', {}, fmtTime(ev.created_at)),
      h('td', {}, h('span', { class: 'actions' }, showAttempts, retry)));
    return [row, detail];
  }

  function attemptsTable(attempts) {
    if (!attempts.length) return h('p', { class: 'muted' }, 'No delivery attempt yet.');
    return h('table', { class: 'attempts' },
      h('thead', {}, h('tr', {}, ['#', 'When', 'Outcome', 'HTTP', 'Duration', 'Trigger', 'Error / response', 'Next attempt']
        .map((t) => h('th', {}, t)))),
      h('tbody', {}, attempts.map((a) => h('tr', {},
        h('td', {}, String(a.attempt)),
        h('td', {}, fmtTime(a.created_at)),
        h('td', {}, statusBadge(a.outcome)),
        h('td', {}, a.http_status ? String(a.http_status) : 'none'),
        h('td', {}, a.duration_ms === undefined ? '—' : `${a.duration_ms} ms`),
        h('td', {}, a.trigger || ''),
        h('td', { class: 'wrap' }, [a.error, a.response_body].filter(Boolean).join(' — ')),
        h('td', {}, fmtTime(a.next_attempt_at))))));
  }

  // ---- start --------------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', () => {
    $('sign-out').addEventListener('click', () => signOut());
    window.addEventListener('hashchange', route);
    route();
  });
})();
