#!/usr/bin/env bash
# Idempotent set-up for a fresh machine of this project's kind (Debian + rustup + node).
# Installs only what is missing; prints what to install by hand when it cannot (non-root).
#
#   scripts/setup.sh build   what building needs: the wasm32 target, wasm-bindgen-cli of the pinned
#                            version, the npm dev-dependencies. No root, no browser. (`npm start`,
#                            `npm run build`)
#   scripts/setup.sh test    the above, plus what testing needs: Debian's chromium, chromium-driver,
#                            firefox-esr, webkit2gtk-driver (WebKitWebDriver + MiniBrowser) and xvfb
#                            (root: apt-get), geckodriver and wasm-pack. (`npm test`, `npm run bench`;
#                            the default)
# Safe to run again.
set -euo pipefail

mode="${1:-test}"
case "$mode" in
  build | test) ;;
  *) echo "usage: scripts/setup.sh [build|test]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

need_root_msg=()
say() { printf '[setup] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

command -v rustup >/dev/null || die "rustup not found: install Rust from rustup.rs first"
command -v cargo >/dev/null || die "cargo not found (is ~/.cargo/bin on PATH?)"
command -v npm >/dev/null || die "npm not found: install Node.js 18 or newer"

WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)"
[ -n "$WASM_BINDGEN_VERSION" ] || die 'Cargo.toml must pin wasm-bindgen exactly (wasm-bindgen = "=X.Y.Z")'

# 1. Rust target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 2. Debian browsers and their drivers (testing only). apt-get runs in the background while cargo
#    compiles the tools below: one waits on the network and the disk, the other on the CPUs, so a
#    fresh machine is ready in about the time of the longer of the two instead of their sum.
apt_pkgs=()
apt_pid=""
apt_log="$(mktemp)"
if [ "$mode" = test ]; then
  [ -x /usr/bin/chromium ] || apt_pkgs+=(chromium)
  [ -x /usr/bin/chromedriver ] || apt_pkgs+=(chromium-driver)
  [ -x /usr/lib/firefox-esr/firefox-esr ] || apt_pkgs+=(firefox-esr)
  # WebKit, Safari's engine: WebKitWebDriver drives MiniBrowser, which needs an X display (Xvfb).
  [ -x /usr/bin/WebKitWebDriver ] || apt_pkgs+=(webkit2gtk-driver)
  [ -x /usr/bin/Xvfb ] || apt_pkgs+=(xvfb)
  if [ ${#apt_pkgs[@]} -gt 0 ]; then
    if is_root; then
      say "installing Debian packages in the background: ${apt_pkgs[*]}"
      (
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq "${apt_pkgs[@]}"
      ) >"$apt_log" 2>&1 &
      apt_pid=$!
    else
      need_root_msg+=("sudo apt-get install ${apt_pkgs[*]}")
    fi
  fi
fi

# 3. Cargo-installed tools: wasm-bindgen-cli (exact version of the crate); for testing geckodriver
#    and wasm-pack. They build at the same time, each in its own temporary target dir: a lone
#    `cargo install` leaves a core idle through its long serial stretches (one big crate, the final
#    link), which the others fill; npm's install overlaps them too.
#    What each build costs was measured alone on this 2-core kind of machine (CPU seconds, 2026-11-28):
#    - wasm-bindgen-cli stays a release build: wasm-bindgen and the test runner process every test
#      module (7.5 MB) on each run. Without its default feature (rustls-tls: a TLS stack, ring's C
#      included) it is 179 s instead of 208: the runner only talks plain HTTP to a driver on
#      127.0.0.1.
#    - geckodriver and wasm-pack do almost no work of their own (one starts Firefox and forwards
#      WebDriver commands, the other runs cargo and the runner), so they are unoptimized builds
#      without debug info (`--debug`, CARGO_PROFILE_DEV_DEBUG=0): 61 s instead of 141, and 58 s
#      instead of 147.
tool_pids=()
tool_names=()
tool_logs=()
install_tool() { # name, cargo install arguments...
  local name="$1" log
  shift
  log="$(mktemp)"
  # The `--debug` builds carry no debug info: nobody debugs them, and it makes linking slower.
  (
    export CARGO_PROFILE_DEV_DEBUG=0
    cargo install -q "$@" || { [ "$name" = wasm-pack ] && cargo install -q --debug wasm-pack; }
  ) >"$log" 2>&1 &
  tool_pids+=($!)
  tool_names+=("$name")
  tool_logs+=("$log")
}
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ] ||
   [ "$(wasm-bindgen-test-runner --version 2>/dev/null || true)" != "wasm-bindgen-test-runner $WASM_BINDGEN_VERSION" ]; then
  # Not --locked: its lockfile pins a webpki-roots version the registry here lacks (see shared design note).
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION in the background (about 100 s alone)"
  install_tool wasm-bindgen-cli wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --no-default-features --force
fi
if [ "$mode" = test ] && ! command -v geckodriver >/dev/null; then
  say "installing geckodriver in the background (about 40 s alone)"
  install_tool geckodriver geckodriver --locked --debug
fi
if [ "$mode" = test ] && ! command -v wasm-pack >/dev/null; then
  # --locked first; without it if its lockfile names a crate version the registry lacks.
  say "installing wasm-pack in the background"
  install_tool wasm-pack wasm-pack --locked --debug
fi

# 4. npm dev-dependencies (puppeteer-core for the page tests; it never downloads a browser).
if [ ! -d node_modules/puppeteer-core ] || [ ! -f node_modules/.package-lock.json ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dev-dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

for i in "${!tool_pids[@]}"; do
  if ! wait "${tool_pids[$i]}"; then
    tail -n 30 "${tool_logs[$i]}" >&2
    die "cargo install ${tool_names[$i]} failed (output above)"
  fi
  rm -f "${tool_logs[$i]}"
  say "${tool_names[$i]} installed"
done

if [ -n "$apt_pid" ]; then
  if ! wait "$apt_pid"; then
    tail -n 20 "$apt_log" >&2
    die "apt-get install ${apt_pkgs[*]} failed (output above)"
  fi
  say "Debian packages installed"
fi
rm -f "$apt_log"

if [ ${#need_root_msg[@]} -gt 0 ]; then
  say "missing system packages and not root; please run:"
  for m in "${need_root_msg[@]}"; do say "  $m"; done
  exit 1
fi
