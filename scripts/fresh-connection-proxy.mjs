// An HTTP proxy for Chromium in the wasm test runs: it passes each request on to the test
// runner's server over a connection of its own, closed after the response.
//
// Why. The wasm test runner (wasm-bindgen-test-runner) serves its page from a rouille/tiny-http
// server that now and then leaves a request on a reused keep-alive connection unanswered. Chromium
// then waits until it gives the idle connection up, 300 s later, and chromedriver reports "Timed
// out receiving message from renderer" with no test run (caught live: the page's first worker's
// `bootstrap.js`, or the test module itself, at 299.8 s where every other file took 10–45 ms; up
// to three runs in four right after a rebuild). Firefox's twin is cured by a 1 s keep-alive pref
// (scripts/webdriver.json); Chromium has no such setting, but it does use a proxy, and a proxy
// that never reuses an upstream connection leaves the runner's server no idle connection to drop.
// Chromium reaches the proxy over normal keep-alive connections (Node's server handles those).
//
// Only loopback targets are forwarded (Chromium is started with `--proxy-bypass-list=<-loopback>`,
// which removes its implicit loopback bypass, and nothing else should come this way).
//
//   const proxy = await startFreshConnectionProxy();   // { port, close() }

import http from 'node:http';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade'];

/** Starts the proxy on 127.0.0.1 (a free port); resolves with `{port, close}`. */
export function startFreshConnectionProxy() {
  const server = http.createServer((req, res) => {
    let target;
    try {
      target = new URL(req.url); // a proxy gets absolute-form request targets
    } catch {
      res.writeHead(400).end(`fresh-connection-proxy: not an absolute URL: ${req.url}`);
      return;
    }
    if (target.protocol !== 'http:' || !LOOPBACK.has(target.hostname)) {
      res.writeHead(502).end(`fresh-connection-proxy: only http://loopback is forwarded, not ${target.origin}`);
      return;
    }
    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    headers.connection = 'close';
    const upstream = http.request({
      host: target.hostname === '[::1]' ? '::1' : target.hostname,
      port: target.port || 80,
      method: req.method,
      path: `${target.pathname}${target.search}`,
      headers,
      agent: false, // a new connection for every request
    }, (up) => {
      const out = { ...up.headers };
      for (const h of HOP_BY_HOP) delete out[h];
      res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(`fresh-connection-proxy: ${err.message}`);
    });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      // Unref'd: a forgotten proxy must not keep `npm test` alive.
      server.unref();
      resolve({
        port,
        close: () => new Promise((done) => {
          server.closeAllConnections?.();
          server.close(() => done());
        }),
      });
    });
  });
}
