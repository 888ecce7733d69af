#!/usr/bin/env bash
# The admin web UI's browser test: installs what it needs when missing (Debian's Chromium,
# playwright-core from package-lock.json), builds the `ssf` program, and runs the test with
# node's test runner. Screenshots land in docs/screenshots/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q chromium
fi

# The test drives Debian's Chromium: never let an install hook fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cd "$here"
wanted="$(node -p "require('./package.json').devDependencies['playwright-core']")"
installed="$(node -p "try { require('./node_modules/playwright-core/package.json').version } catch { '' }")"
if [ "$wanted" != "$installed" ]; then
    npm ci --no-audit --no-fund
fi

# CI passes the binary `cargo test --workspace` already built; building it alone would resolve
# features differently and recompile half the dependency tree.
if [ -z "${SSF_BIN:-}" ]; then
    (cd "$root" && cargo build -p ssf-worker --bin ssf)
    SSF_BIN="$root/target/debug/ssf"
fi
export SSF_BIN
node --test --test-concurrency=1 ui.test.mjs
