// End-to-end tests of the demo page (www/) in Debian's Chromium (CDP), Firefox ESR (WebDriver
// BiDi) and WebKitGTK's MiniBrowser (W3C WebDriver, scripts/webdriver-client.mjs: puppeteer-core
// cannot drive WebKit), each with the page served cross-origin isolated (COOP/COEP) and not:
// capabilities and badges, the sort demo, and one JSON run driven through the page's own controls.
// The JSON service itself is tested in json.test.mjs.
//
//   node --test tests/e2e/page.test.mjs     (after `npm run build`; `npm test` does both)
//
// Env: WASM_ISOLATES_WWW=<dir> serves another root (default: www/), CHROMIUM_BIN / FIREFOX_BIN
// override the browser binaries, WASM_ISOLATES_E2E_ENGINES=chrome,firefox,webkit picks engines
// (default: all three), DISPLAY is the X display for MiniBrowser (without it one Xvfb is started).
// Nothing is skipped: a browser that cannot launch fails its tests.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { serve } from '../../scripts/serve.mjs';
import { launchWebKit, startXvfb } from '../../scripts/webdriver-client.mjs';
import { CSP, launchOptions, WWW } from './support.mjs';

const N = 200_000;
const ALL_ENGINES = ['chrome', 'firefox', 'webkit'];
const ENGINES = (process.env.WASM_ISOLATES_E2E_ENGINES ?? ALL_ENGINES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const e of ENGINES) assert.ok(ALL_ENGINES.includes(e), `WASM_ISOLATES_E2E_ENGINES: unknown engine ${e}`);

// What each engine has, as measured on these machines: WebKitGTK 2.50 is cross-origin isolated
// under COOP/COEP but exposes no SharedArrayBuffer; only Chromium reports long tasks.
const EXPECT = {
  chrome: { sharedArrayBufferWhenIsolated: true, longTasks: true },
  firefox: { sharedArrayBufferWhenIsolated: true, longTasks: false },
  webkit: { sharedArrayBufferWhenIsolated: false, longTasks: false },
};

const servers = {};

before(async () => {
  servers.on = await serve({ root: WWW, port: 0, coi: true, csp: CSP });
  servers.off = await serve({ root: WWW, port: 0, coi: false, csp: CSP });
});

after(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
});

test('the page has been built (www/pkg)', () => {
  for (const f of ['index.html', 'main.js', 'style.css', 'frames.js', 'probe.js', 'scatter.js', 'strategies.js', 'plain-worker.js',
    'pkg/wasm_isolates.js', 'pkg/wasm_isolates_bg.wasm']) {
    assert.ok(existsSync(path.join(WWW, f)), `${path.join(WWW, f)} is missing: run \`npm run build\` first`);
  }
});

test('the server sends the isolation headers only when asked to', async () => {
  for (const [mode, server] of Object.entries(servers)) {
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cross-origin-opener-policy'), mode === 'on' ? 'same-origin' : null);
    assert.equal(res.headers.get('cross-origin-embedder-policy'), mode === 'on' ? 'require-corp' : null);
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
    assert.equal(res.headers.get('content-security-policy'), CSP);
    await res.arrayBuffer();
  }
});

// ---- one small interface over both drivers -----------------------------------------------------
// open(url) -> {evaluate(fn, ...args), waitFor(fn, timeoutMs, what), select(sel, value), click(sel),
//               problems(), close()}

/** Chromium and Firefox through puppeteer-core: page errors, console errors and failed requests are collected from the start. */
async function puppeteerBrowser(engine) {
  const profile = mkdtempSync(path.join(tmpdir(), `wasm-isolates-e2e-${engine}-`));
  let browser;
  try {
    browser = await puppeteer.launch({ ...launchOptions(engine, profile), timeout: 60_000 });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`could not launch ${engine} (${launchOptions(engine, '').executablePath}): ${err?.stack ?? err}`);
  }
  return {
    async open(url) {
      const page = await browser.newPage();
      const problems = [];
      page.on('pageerror', (err) => problems.push(`pageerror: ${err?.stack ?? err}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
      });
      page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
      page.on('response', (res) => {
        if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
      });
      // CSP violations do not always reach the console (Firefox): record them in the page.
      await page.evaluateOnNewDocument(() => {
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
          window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
        });
      });
      const response = await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
      assert.equal(response.status(), 200);
      return {
        evaluate: (fn, ...args) => page.evaluate(fn, ...args),
        waitFor: (fn, timeout) => page.waitForFunction(fn, { timeout }),
        select: (sel, value) => page.select(sel, value),
        click: (sel) => page.click(sel),
        problems: async () => [...problems, ...(await page.evaluate(() => window.__cspViolations))],
        close: () => page.close().catch(() => {}),
      };
    },
    close: async () => {
      await browser.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * WebKit through W3C WebDriver classic, which has no event stream: errors, unhandled rejections
 * and CSP violations are recorded by listeners installed right after navigation (so the page's
 * own start-up is covered by `window.__demo` appearing, and everything the test then does — the
 * workers, the sort, the JSON run — by the listeners). A fresh session per page.
 */
async function webkitBrowser() {
  let xvfb = null;
  if (!process.env.DISPLAY) xvfb = await startXvfb();
  const display = process.env.DISPLAY ?? xvfb.display;
  const sessions = new Set();
  return {
    async open(url) {
      const wk = await launchWebKit({ display });
      sessions.add(wk);
      await wk.navigate(url);
      await wk.execute(`
        window.__problems = [];
        addEventListener('error', (e) => window.__problems.push('error: ' + (e.message || e.type) + ' at ' + (e.filename || '?') + ':' + (e.lineno || 0)), true);
        addEventListener('unhandledrejection', (e) => window.__problems.push('unhandledrejection: ' + (e.reason && e.reason.stack || e.reason)));
        document.addEventListener('securitypolicyviolation', (e) => window.__problems.push('CSP: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)')));
      `);
      return {
        evaluate: (fn, ...args) => wk.evaluate(fn, args),
        waitFor: (fn, timeoutMs, what) => wk.waitFor(fn, [], { timeoutMs, what }),
        // As puppeteer's page.select: set the value, then fire input and change.
        select: (sel, value) => wk.evaluate((s, v) => {
          const el = document.querySelector(s);
          el.value = v;
          el.dispatchEvent(new Event('input', { bubbles: true }));
          el.dispatchEvent(new Event('change', { bubbles: true }));
        }, [sel, value]),
        click: (sel) => wk.click(sel),
        problems: () => wk.evaluate(() => window.__problems),
        close: async () => {
          sessions.delete(wk);
          await wk.close();
        },
      };
    },
    close: async () => {
      await Promise.all([...sessions].map((s) => s.close()));
      await xvfb?.close();
    },
  };
}

for (const engine of ENGINES) {
  describe(engine, { timeout: 300_000 }, () => {
    let browser = null;
    let launchError = null;

    before(async () => {
      try {
        browser = engine === 'webkit' ? await webkitBrowser() : await puppeteerBrowser(engine);
      } catch (err) {
        launchError = err;
      }
    });

    after(async () => {
      await browser?.close();
    });

    for (const coi of [true, false]) {
      test(`${engine}, cross-origin isolation ${coi ? 'on' : 'off'}: isolate sort, and a JSON run from the page's controls`, { timeout: 150_000 }, async () => {
        assert.ok(browser, `could not start ${engine}: ${launchError?.stack ?? launchError}`);
        const server = coi ? servers.on : servers.off;
        const page = await browser.open(server.url);
        try {
          await page.waitFor(() => window.__demo !== undefined, 30_000, 'window.__demo').catch(async (err) => {
            throw new Error(`window.__demo never appeared (${err.message}); page problems so far: ${JSON.stringify(await page.problems())}`);
          });
          await page.evaluate(() => window.__demo.ready.then(() => true));

          const caps = await page.evaluate(() => window.__demo.capabilities());
          const expected = EXPECT[engine];
          const sab = coi && expected.sharedArrayBufferWhenIsolated;
          assert.equal(caps.crossOriginIsolated, coi, `crossOriginIsolated (capabilities: ${JSON.stringify(caps)})`);
          assert.equal(caps.sharedArrayBuffer, sab, `sharedArrayBuffer (capabilities: ${JSON.stringify(caps)})`);
          // Spawning is decided by SharedArrayBuffer, not by isolation (WebKit: isolated, none).
          assert.equal(caps.canSpawn, sab, `canSpawn (capabilities: ${JSON.stringify(caps)})`);
          assert.equal(caps.canRun, true);
          assert.equal(caps.workers, true);
          assert.equal(caps.moduleWorkers, true);
          assert.equal(caps.context, 'window');
          assert.equal(caps.inIsolate, false);
          assert.equal(caps.longTasks, expected.longTasks, `Long Tasks API (capabilities: ${JSON.stringify(caps)})`);
          assert.ok(Number.isInteger(caps.hardwareConcurrency) && caps.hardwareConcurrency >= 1, `hardwareConcurrency ${caps.hardwareConcurrency}`);

          const badge = await page.evaluate(() => document.getElementById('badge-coi').textContent);
          assert.equal(badge, coi ? 'cross-origin isolated' : 'not cross-origin isolated');
          const isolates = await page.evaluate(() => document.getElementById('badge-isolates').textContent);
          assert.equal(isolates, sab ? 'long-lived isolates available' : 'one-shot isolates only');

          const isolate = await page.evaluate((n) => window.__demo.runSort('isolate', n), N);
          assert.equal(isolate.strategy, 'isolate');
          assert.equal(isolate.n, N);
          assert.equal(isolate.length, N);
          assert.equal(isolate.sorted, true, `isolate result: ${JSON.stringify(isolate)}`);

          const main = await page.evaluate((n) => window.__demo.runSort('main', n), N);
          assert.equal(main.length, N);
          assert.equal(main.sorted, true, `main-thread result: ${JSON.stringify(main)}`);

          // The measurements are real: a round trip to a worker that sorts 200,000 numbers takes
          // time, and the probe sees the main-thread sort as the main thread blocked for (nearly)
          // all of its duration — it misses at most the 1 ms its timer sleeps; 2 ms allowed for
          // clock granularity. (No claim that the isolate blocks the main thread less: at this
          // size copying the input and result costs about what the sort does, 14–29 ms each.)
          assert.ok(Number.isFinite(isolate.totalMs) && isolate.totalMs > 0, `isolate totalMs: ${JSON.stringify(isolate)}`);
          assert.ok(Number.isFinite(isolate.maxGapMs) && isolate.maxGapMs >= 0, `isolate maxGapMs: ${JSON.stringify(isolate)}`);
          assert.ok(main.totalMs > 0 && main.mainBlockedMs >= main.totalMs - 2,
            `the main-thread sort took ${main.totalMs} ms but the probe saw the main thread blocked ${main.mainBlockedMs} ms: ${JSON.stringify(main)}`);

          const rows = await page.evaluate(() => document.querySelectorAll('#sort-results tbody tr').length);
          assert.equal(rows, 2, 'one results-table row per run');

          // The JSON section through its controls: 1 MB of points, checked, parsed into columns.
          await page.select('#mb', '1');
          await page.click('#verify');
          await page.waitFor(() => !document.getElementById('run-columns').disabled, 60_000, '#run-columns enabled');
          await page.click('#run-columns');
          await page.waitFor(() => document.querySelectorAll('#results tbody tr').length === 1, 90_000, 'a results row')
            .catch(async () => {
              throw new Error(`no results row; status: ${await page.evaluate(() => document.getElementById('status').textContent)}`);
            });
          const jsonRow = await page.evaluate(() => [...document.querySelectorAll('#results tbody tr td')].map((td) => td.textContent));
          assert.equal(jsonRow[0], 'columns', JSON.stringify(jsonRow));
          assert.equal(jsonRow[1], 'points', JSON.stringify(jsonRow));
          assert.equal(jsonRow[2], '1', JSON.stringify(jsonRow));
          assert.match(jsonRow.at(-1), /JSON\.parse/, `check cell: ${JSON.stringify(jsonRow)}`);
          assert.match(await page.evaluate(() => document.getElementById('scatter-caption').textContent), /^[\d,]+ points/);
          const longTaskCell = jsonRow[8];
          assert.equal(longTaskCell === 'n/a', !expected.longTasks, `long-task cell ${longTaskCell}`);

          assert.deepEqual(await page.problems(), [], 'page errors, console errors, failed requests or CSP violations');
        } finally {
          await page.close();
        }
      });
    }
  });
}
