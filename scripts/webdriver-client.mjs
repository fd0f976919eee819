// A small W3C WebDriver client over plain HTTP (Node built-ins only), and what WebKit needs to run
// here: a virtual display (Xvfb) and Debian's WebKitWebDriver driving MiniBrowser.
//
// Why our own client. puppeteer-core speaks CDP and WebDriver BiDi, which WebKitGTK's driver does
// not; W3C WebDriver "classic" (navigate, execute script, find/click, delete session) is all the
// page tests need, and it is a dozen HTTP requests
// (https://www.w3.org/TR/webdriver2/). The wasm test runner needs none of this: it drives
// WebKitWebDriver itself as `SAFARIDRIVER` (see docs/tests.md).
//
//   const display = await startXvfb();                    // {display: ':N', close()}
//   const wk = await launchWebKit({ display: display.display });
//   await wk.navigate(url);
//   const caps = await wk.executeAsync('arguments[0](window.__demo.capabilities())'); // or wk.evaluate(fn, ...args)
//   await wk.close(); await display.close();
//
// This file imports only node built-ins: test.mjs loads it before the npm dependencies exist.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER_BIN ?? '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.MINIBROWSER_BIN ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

/**
 * Starts an Xvfb server on a free display and resolves with `{display, close}`. Xvfb picks the
 * number itself (`-displayfd`) and reports it when it is ready to accept clients, so two runs
 * starting at once cannot race for the same display (as `xvfb-run -a`, which guesses a free
 * number first, can).
 */
export function startXvfb({ screen = '1280x1024x24', timeoutMs = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    let child;
    try {
      // fd 3 is a pipe on which Xvfb writes the display number once it is listening.
      child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', screen, '-nolisten', 'tcp'], {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
        detached: false,
      });
    } catch (err) {
      reject(err);
      return;
    }
    let stderr = '';
    let number = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Xvfb did not report a display within ${timeoutMs} ms: ${stderr.trim()}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4096); });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start Xvfb (apt-get install xvfb): ${err.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited (${code}) before reporting a display: ${stderr.trim()}`));
    });
    child.stdio[3].on('data', (d) => {
      number += d.toString();
      if (!number.includes('\n')) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.unref();
      child.stdio[3].destroy();
      child.stderr.destroy();
      resolve({
        display: `:${number.trim()}`,
        pid: child.pid,
        close: () => new Promise((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          // Referenced again while we wait: an unref'd child alone would let Node exit mid-await.
          child.ref();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
      });
    });
  });
}

/** A free TCP port on 127.0.0.1 (for a driver that takes `--port`). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One W3C WebDriver session. Every command rejects with the driver's own error message. */
export class WebDriverSession {
  constructor(base, id, capabilities) {
    this.base = base;
    this.id = id;
    this.capabilities = capabilities;
  }

  static async create(base, capabilities, { timeoutMs = 60_000 } = {}) {
    const value = await command(base, 'POST', '/session', { capabilities: { alwaysMatch: capabilities } }, timeoutMs);
    return new WebDriverSession(base, value.sessionId, value.capabilities);
  }

  cmd(method, path, body, timeoutMs = 120_000) {
    return command(this.base, method, `/session/${this.id}${path}`, body, timeoutMs);
  }

  navigate(url, timeoutMs = 60_000) {
    return this.cmd('POST', '/url', { url }, timeoutMs);
  }

  /** Runs `script` (a function body; `arguments` are `args`) and resolves with its return value. */
  execute(script, args = [], timeoutMs = 60_000) {
    return this.cmd('POST', '/execute/sync', { script, args }, timeoutMs);
  }

  /** Like `execute`, but the script ends by calling its last argument with the result. */
  executeAsync(script, args = [], timeoutMs = 120_000) {
    return this.cmd('POST', '/execute/async', { script, args }, timeoutMs);
  }

  /**
   * Calls `fn(...args)` in the page (its source text is sent, so it must not close over
   * anything) and resolves with its awaited, JSON-cloned result; a rejection in the page rejects
   * here with the page's message and stack.
   */
  async evaluate(fn, args = [], timeoutMs = 120_000) {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${fn.toString()})(...Array.prototype.slice.call(arguments, 0, -1)))
        .then((value) => done({ ok: true, value }),
              (err) => done({ ok: false, error: String(err && err.stack || err), name: err && err.name, message: String(err && err.message || err) }));`;
    await this.cmd('POST', '/timeouts', { script: timeoutMs });
    const r = await this.executeAsync(script, args, timeoutMs + 10_000);
    if (!r || r.ok !== true) {
      const err = new Error(`in the page: ${r?.message ?? JSON.stringify(r)}\n${r?.error ?? ''}`);
      err.name = r?.name ?? 'Error';
      throw err;
    }
    return r.value;
  }

  /** Polls `fn(...args)` in the page until it returns something truthy; rejects after `timeoutMs`. */
  async waitFor(fn, args = [], { timeoutMs = 30_000, intervalMs = 100, what = fn.toString() } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await this.evaluate(fn, args);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async click(cssSelector) {
    const el = await this.cmd('POST', '/element', { using: 'css selector', value: cssSelector });
    const ref = el[Object.keys(el).find((k) => k.startsWith('element-')) ?? 'ELEMENT'];
    return this.cmd('POST', `/element/${ref}/click`, {});
  }

  close(timeoutMs = 15_000) {
    return this.cmd('DELETE', '', undefined, timeoutMs).catch(() => {});
  }
}

async function command(base, method, path, body, timeoutMs) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`webdriver ${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  // W3C errors come with a 4xx/5xx status; a 200 `value` is the command's result, whatever keys it has.
  if (!res.ok) {
    const v = json.value ?? {};
    throw new Error(`webdriver ${method} ${path}: ${v.error ?? res.status}: ${v.message ?? text.slice(0, 500)}`);
  }
  return json.value;
}

/**
 * Starts WebKitWebDriver on a free port and a MiniBrowser session on `display`; resolves with a
 * WebDriverSession whose `close()` also ends the driver. MiniBrowser has no headless mode: it
 * needs an X display (startXvfb), and `--automation` lets the driver control it.
 */
export async function launchWebKit({ display = process.env.DISPLAY, timeoutMs = 60_000 } = {}) {
  if (!existsSync(WEBKIT_DRIVER)) throw new Error(`${WEBKIT_DRIVER} not found (apt-get install webkit2gtk-driver)`);
  if (!display) throw new Error('WebKit needs an X display: start one with startXvfb() or set DISPLAY');
  const port = await freePort();
  const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`], {
    env: { ...process.env, DISPLAY: display },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (d) => { log = (log + d).slice(-8192); };
  driver.stdout.on('data', keep);
  driver.stderr.on('data', keep);
  const stopDriver = () => new Promise((done) => {
    if (driver.exitCode !== null || driver.signalCode !== null) return done();
    driver.once('exit', () => done());
    driver.kill('SIGTERM');
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const status = await command(base, 'GET', '/status', undefined, 2_000);
      if (status.ready !== false) break;
    } catch (err) {
      if (driver.exitCode !== null) throw new Error(`WebKitWebDriver exited (${driver.exitCode}): ${log}`);
      if (Date.now() > deadline) {
        await stopDriver();
        throw new Error(`WebKitWebDriver did not answer within ${timeoutMs} ms: ${err.message}; ${log}`);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let session;
  try {
    session = await WebDriverSession.create(base, {
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
    }, { timeoutMs });
  } catch (err) {
    await stopDriver();
    throw new Error(`${err.message}; driver log: ${log}`);
  }
  const closeSession = session.close.bind(session);
  session.close = async () => {
    await closeSession();
    await stopDriver();
  };
  session.driverLog = () => log;
  return session;
}
