// What the page tests share: paths, the browsers, and the strict policy every page is served with.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WWW = path.resolve(ROOT, process.env.WASM_ISOLATES_WWW ?? 'www');
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const FIREFOX = process.env.FIREFOX_BIN ?? '/usr/lib/firefox-esr/firefox-esr';

// Strict: no inline script, no eval, no blob: workers; wasm compilation allowed.
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

// As root, headless, on a machine with no network: without the networking flags Chromium floods
// the closed network with refused connections.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** puppeteer-core launch options for `engine` ('chrome' | 'firefox') with a fresh profile dir. */
export function launchOptions(engine, userDataDir, { extraChromiumArgs = [], protocolTimeout = 120_000 } = {}) {
  if (engine === 'firefox') {
    return { browser: 'firefox', executablePath: FIREFOX, headless: true, userDataDir, protocolTimeout };
  }
  return {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraChromiumArgs, `--user-data-dir=${userDataDir}`],
    protocolTimeout,
  };
}
