// End-to-end tests of the demo page (www/) in Debian's Chromium (CDP) and Firefox ESR (WebDriver BiDi),
// each with the page served cross-origin isolated (COOP/COEP) and not: capabilities and badges, the
// sort demo, and one JSON run driven through the page's own controls. The JSON service itself is
// tested in json.test.mjs.
//
//   node --test tests/e2e/            (after `npm run build`; `npm test` does both)
//
// Env: WASM_ISOLATES_WWW=<dir> serves another root (default: www/), CHROMIUM_BIN / FIREFOX_BIN
// override the browser binaries. Nothing is skipped: a browser that cannot launch fails its tests.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { serve } from '../../scripts/serve.mjs';
import { CSP, launchOptions, WWW } from './support.mjs';

const N = 200_000;
const ENGINES = {
  chrome: (userDataDir) => launchOptions('chrome', userDataDir),
  firefox: (userDataDir) => launchOptions('firefox', userDataDir),
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

for (const [engine, launchOptions] of Object.entries(ENGINES)) {
  describe(engine, { timeout: 240_000 }, () => {
    let browser = null;
    let launchError = null;
    let profile = null;

    before(async () => {
      profile = mkdtempSync(path.join(tmpdir(), `wasm-isolates-e2e-${engine}-`));
      try {
        browser = await puppeteer.launch({ ...launchOptions(profile), timeout: 60_000 });
      } catch (err) {
        launchError = err;
      }
    });

    after(async () => {
      await browser?.close().catch(() => {});
      if (profile) rmSync(profile, { recursive: true, force: true });
    });

    for (const coi of [true, false]) {
      test(`${engine}, cross-origin isolation ${coi ? 'on' : 'off'}: isolate sort, and a JSON run from the page's controls`, { timeout: 120_000 }, async () => {
        assert.ok(browser, `could not launch ${engine} (${launchOptions('').executablePath}): ${launchError?.stack ?? launchError}`);
        const server = coi ? servers.on : servers.off;
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

        try {
          const response = await page.goto(server.url, { waitUntil: 'load', timeout: 60_000 });
          assert.equal(response.status(), 200);

          await page.waitForFunction(() => window.__demo !== undefined, { timeout: 30_000 }).catch(() => {
            throw new Error(`window.__demo never appeared; page problems so far: ${JSON.stringify(problems)}`);
          });
          await page.evaluate(() => window.__demo.ready);

          const caps = await page.evaluate(() => window.__demo.capabilities());
          assert.equal(caps.crossOriginIsolated, coi, `crossOriginIsolated (capabilities: ${JSON.stringify(caps)})`);
          assert.equal(caps.sharedArrayBuffer, coi, `sharedArrayBuffer (capabilities: ${JSON.stringify(caps)})`);
          assert.equal(caps.workers, true);
          assert.equal(caps.moduleWorkers, true);
          assert.equal(caps.context, 'window');
          assert.equal(caps.inIsolate, false);
          assert.ok(Number.isInteger(caps.hardwareConcurrency) && caps.hardwareConcurrency >= 1, `hardwareConcurrency ${caps.hardwareConcurrency}`);

          const badge = await page.evaluate(() => document.getElementById('badge-coi').textContent);
          assert.equal(badge, coi ? 'cross-origin isolated' : 'not cross-origin isolated');
          const isolates = await page.evaluate(() => document.getElementById('badge-isolates').textContent);
          assert.equal(isolates, coi ? 'long-lived isolates available' : 'one-shot isolates only');

          const isolate = await page.evaluate((n) => window.__demo.runSort('isolate', n), N);
          assert.equal(isolate.strategy, 'isolate');
          assert.equal(isolate.n, N);
          assert.equal(isolate.length, N);
          assert.equal(isolate.sorted, true, `isolate result: ${JSON.stringify(isolate)}`);
          assert.ok(isolate.totalMs >= 0 && Number.isFinite(isolate.maxGapMs), JSON.stringify(isolate));

          const main = await page.evaluate((n) => window.__demo.runSort('main', n), N);
          assert.equal(main.length, N);
          assert.equal(main.sorted, true, `main-thread result: ${JSON.stringify(main)}`);

          const rows = await page.evaluate(() => document.querySelectorAll('#sort-results tbody tr').length);
          assert.equal(rows, 2, 'one results-table row per run');

          // The JSON section through its controls: 1 MB of points, checked, parsed into columns.
          await page.select('#mb', '1');
          await page.click('#verify');
          await page.waitForFunction(() => !document.getElementById('run-columns').disabled, { timeout: 60_000 });
          await page.click('#run-columns');
          await page.waitForFunction(() => document.querySelectorAll('#results tbody tr').length === 1, { timeout: 90_000 })
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
          assert.equal(longTaskCell === 'n/a', engine === 'firefox', `long-task cell ${longTaskCell}`);

          const csp = await page.evaluate(() => window.__cspViolations);
          assert.deepEqual(csp, [], 'CSP violations');
          assert.deepEqual(problems, [], 'page errors, console errors or failed requests');
        } finally {
          await page.close().catch(() => {});
        }
      });
    }
  });
}
