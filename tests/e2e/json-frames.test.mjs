// Frames kept by the demo's JSON strategies (www/strategies.js) on a 50 MB document, in Chromium
// and Firefox, counted as rAF gaps over 50 ms while the strategy runs (counts, not milliseconds):
// - `handle` and `columns` (bytes moved to an isolate, parsed there) must show none;
// - `main-parse` (JSON.parse on the page's thread) must show at least one: the control that
//   proves the instrument sees a parse on the main thread.
//
//   node --test tests/e2e/json-frames.test.mjs      (after `npm run build`)
//
// Each strategy runs exactly as the demo runs it (its own `prepare`, `run` and `release`), with the
// frame recorder of this file around `run` only. Gaps are wall-clock: on a loaded 2-core machine
// another process can hold the page's thread off the CPU, so a strategy gets up to three runs and
// one run without a gap shows it has no main-thread task of that size (the control has one in
// every run). `objects` mode is not here: docs/json.md says what it keeps and what it does not.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { serve } from '../../scripts/serve.mjs';
import { CSP, launchOptions, WWW } from './support.mjs';

const MB = 50;
const GAP_MS = 50;

let server = null;
before(async () => {
  server = await serve({ root: WWW, port: 0, coi: true, csp: CSP });
});
after(async () => {
  await server?.close();
});

/** In the page: runs `strategy` once on the dataset and returns the rAF gaps over `gapMs` during `run`. */
async function gapsDuring(strategy, mb, gapMs) {
  const { STRATEGIES, KINDS, getDataset } = await import('./strategies.js');
  const spec = STRATEGIES[strategy];
  const ds = await getDataset('points', mb);
  const options = { fields: KINDS.points.fields };
  const input = await spec.prepare(ds, options);
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await frame();
  await frame();
  const stamps = [];
  let recording = true;
  const loop = (t) => {
    stamps.push(t);
    if (recording) requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
  while (stamps.length < 2) await frame();
  const value = await spec.run(input, options);
  await frame();
  await frame();
  recording = false;
  await spec.release?.(value);
  const gaps = [];
  for (let i = 1; i < stamps.length; i++) {
    if (stamps[i] - stamps[i - 1] > gapMs) gaps.push(Math.round(stamps[i] - stamps[i - 1]));
  }
  return { gaps, frames: stamps.length, records: value?.length ?? value?.doc?.length ?? null };
}

for (const engine of ['chrome', 'firefox']) {
  describe(`${engine}: frames during the JSON strategies`, { timeout: 600_000 }, () => {
    let browser = null;
    let launchError = null;
    let profile = null;

    before(async () => {
      profile = mkdtempSync(path.join(tmpdir(), `wasm-isolates-e2e-frames-${engine}-`));
      try {
        browser = await puppeteer.launch({ ...launchOptions(engine, profile, { protocolTimeout: 300_000 }), timeout: 60_000 });
      } catch (err) {
        launchError = err;
      }
    });
    after(async () => {
      await browser?.close().catch(() => {});
      if (profile) rmSync(profile, { recursive: true, force: true });
    });

    test(`${engine}, ${MB} MB: handle and columns leave no rAF gap over ${GAP_MS} ms; main-parse does`, { timeout: 400_000 }, async (t) => {
      assert.ok(browser, `could not launch ${engine}: ${launchError?.stack ?? launchError}`);
      const page = await browser.newPage();
      const pageErrors = [];
      page.on('pageerror', (err) => pageErrors.push(String(err?.stack ?? err)));
      try {
        await page.goto(server.url, { waitUntil: 'load', timeout: 60_000 });
        await page.waitForFunction(() => window.__demo !== undefined, { timeout: 30_000 });
        await page.evaluate(() => window.__demo.ready);
        for (const strategy of ['handle', 'columns']) {
          const attempts = [];
          for (let i = 0; i < 3; i++) {
            const run = await page.evaluate(gapsDuring, strategy, MB, GAP_MS);
            assert.ok(run.records > 400_000, `${strategy}: ${run.records} records`);
            attempts.push(run);
            if (run.gaps.length === 0) break;
          }
          if (attempts.length > 1) t.diagnostic(`${strategy}: gaps in earlier runs ${JSON.stringify(attempts.slice(0, -1).map((a) => a.gaps))}`);
          assert.deepEqual(attempts.at(-1).gaps, [], `${strategy}: rAF gaps over ${GAP_MS} ms in each of ${attempts.length} runs: ${JSON.stringify(attempts.map((a) => a.gaps))}`);
        }
        const control = await page.evaluate(gapsDuring, 'main-parse', MB, GAP_MS);
        assert.ok(control.gaps.length >= 1, `main-parse should freeze the page: ${JSON.stringify(control)}`);
        assert.deepEqual(pageErrors, []);
      } finally {
        await page.close().catch(() => {});
      }
    });
  });
}
