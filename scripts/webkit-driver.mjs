#!/usr/bin/env node
// WebKitWebDriver as the wasm test runner starts it (`SAFARIDRIVER=scripts/webkit-driver.mjs`,
// called with `--port=N`), with the test page reached through a reverse proxy that opens a fresh
// connection to the runner's server for every request.
//
// Why. The runner's server (tiny-http) now and then leaves a request on a reused keep-alive
// connection unanswered until the browser gives the connection up (docs/tests.md,
// "Troubleshooting"). Chromium goes through scripts/fresh-connection-proxy.mjs and Firefox has a
// keep-alive pref, both set through capabilities; the runner gives safaridriver none, and a WebKit
// invocation idled about 60 s before its page reported, in most runs. So this script stands
// where the driver would: it starts the real WebKitWebDriver on another port and forwards every
// WebDriver command to it unchanged, except the navigation to the runner's page, whose URL it
// points at the reverse proxy instead (same paths; the page only uses relative URLs, and the
// proxy passes the runner's COOP/COEP headers on).
//
// Node built-ins only. Exits when the runner kills it, and takes the driver with it (a watchdog
// does when the kill leaves no chance to).

import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

const DRIVER = process.env.WEBKIT_WEBDRIVER_BIN ?? '/usr/bin/WebKitWebDriver';
const portArg = process.argv.slice(2).find((a) => a.startsWith('--port='));
const port = Number(portArg?.slice('--port='.length));
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: webkit-driver.mjs --port=N');
  process.exit(2);
}

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port: p } = s.address();
    s.close(() => resolve(p));
  });
});

const driverPort = await freePort();
const driver = spawn(DRIVER, [`--port=${driverPort}`], { stdio: 'inherit' });
const stop = () => {
  driver.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
driver.on('exit', (code) => process.exit(code ?? 1));
// The runner ends its driver with SIGKILL (Rust's `Child::kill`), which runs no handler here:
// without this watchdog every WebKit invocation left its WebKitWebDriver behind (one idle
// process per run of a suite, found in `npm test`'s cgroups, 2026-11-28). It polls this
// process's pid and ends the driver once it is gone.
spawn('sh', ['-c', 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill "$2" 2>/dev/null', 'sh', String(process.pid), String(driver.pid)], {
  stdio: 'ignore',
  detached: true,
}).unref();

// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding'];
const clean = (headers) => {
  const out = { ...headers };
  for (const h of HOP_BY_HOP) delete out[h];
  return out;
};

/** Reverse proxies by the runner origin they serve (one per runner server, made on first use). */
const proxies = new Map();
function reverseProxy(origin) {
  if (!proxies.has(origin)) {
    const target = new URL(origin);
    proxies.set(origin, new Promise((resolve, reject) => {
      const server = http.createServer((req, res) => {
        const up = http.request({
          host: target.hostname, port: target.port, method: req.method, path: req.url,
          headers: { ...clean(req.headers), host: target.host, connection: 'close' },
          agent: false, // a new connection for every request
        }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.statusMessage, clean(answer.headers));
          answer.pipe(res);
        });
        up.on('error', (err) => {
          if (!res.headersSent) res.writeHead(502);
          res.end(`webkit-driver proxy: ${err.message}`);
        });
        req.pipe(up);
      });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
    }));
  }
  return proxies.get(origin);
}

/** The body of a navigation command, its URL pointed at the reverse proxy of its origin. */
async function rewriteNavigation(body) {
  let command;
  try {
    command = JSON.parse(body);
  } catch {
    return body;
  }
  const url = typeof command.url === 'string' ? new URL(command.url) : null;
  if (!url || url.protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(url.hostname)) return body;
  const proxy = await reverseProxy(url.origin);
  command.url = `${proxy}${url.pathname}${url.search}${url.hash}`;
  return JSON.stringify(command);
}

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  let body = Buffer.concat(chunks).toString('utf8');
  if (req.method === 'POST' && /^\/session\/[^/]+\/url$/.test(req.url)) body = await rewriteNavigation(body);
  const headers = clean(req.headers);
  headers['content-length'] = Buffer.byteLength(body);
  const up = http.request({ host: '127.0.0.1', port: driverPort, method: req.method, path: req.url, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, clean(answer.headers));
    answer.pipe(res);
  });
  up.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ value: { error: 'unknown error', message: `webkit-driver: ${err.message}` } }));
  });
  up.end(body);
});

// Listen only once the driver answers, as the runner takes a bound port for a ready driver.
for (let i = 0; ; i++) {
  const ready = await new Promise((resolve) => {
    const s = net.connect(driverPort, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
  if (ready) break;
  if (i > 300) {
    console.error(`webkit-driver: ${DRIVER} did not open port ${driverPort}`);
    stop();
  }
  await new Promise((r) => setTimeout(r, 50));
}
server.listen(port, '127.0.0.1');
