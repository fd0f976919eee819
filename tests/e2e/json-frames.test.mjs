// Frames kept by the demo's JSON strategies (www/strategies.js) on a 50 MB document, in Chromium
// and Firefox (counts, not milliseconds):
// - `handle` and `columns` (bytes moved to an isolate, parsed there) must show no rAF gap over
//   50 ms while they run;
// - `objects` (the JS objects built on the page's thread, in slices between frames) must run
//   without a single task of 50 ms or more on the page's thread — counted by the Long Tasks API
//   in Chromium, and elsewhere (Firefox has no such API) by an event-loop probe (www/probe.js)
//   counting turns that came 50 ms or more late — and must give exactly what `JSON.parse` gives:
//   every record deep-equal, keys in the same order;
// - `main-parse` (JSON.parse on the page's thread) must show at least one gap and at least one
//   such task: the control that proves each instrument sees a parse on the main thread.
//
//   node --test tests/e2e/json-frames.test.mjs      (after `npm run build`)
//
// Each strategy runs exactly as the demo runs it (its own `prepare`, `run` and `release`), with the
// recorders of this file around `run` only. Gaps and late turns are wall-clock: on a loaded 2-core
// machine another process can hold the page's thread off the CPU, so a strategy gets up to three
// runs and one clean run shows it has no main-thread task of that size (the control has one in
// every run). What the harness itself allocates stays out of the runs: the dataset is made, and
// the page given a second of frames, before the first run; the equality check with `JSON.parse`
// (a 50 MB parse of its own) is made on the last run's result after all runs — made after the
// first run, its garbage could be collected inside the next one (Firefox, under load, once had
// late turns in all three runs with the comparison there).

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

/**
 * In the page: runs `strategy` once on the dataset and returns, for the time `run` takes, the rAF
 * gaps over `gapMs`, the long tasks (null where the Long Tasks API does not exist) and the turns of
 * an event-loop probe that came `gapMs` or more late. With `keep`, the result is kept (for
 * `compareKept`) instead of released.
 */
async function gapsDuring(strategy, mb, gapMs, keep = false) {
  const { STRATEGIES, KINDS, getDataset } = await import('./strategies.js');
  const { recordLongTasks, startBusyProbe } = await import('./probe.js');
  const spec = STRATEGIES[strategy];
  delete globalThis.__keptResult; // an earlier run's, garbage now as it would have been anyway
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
  const longTasks = recordLongTasks();
  // `late > threshold` counts: just under gapMs, so that a turn exactly gapMs late counts too.
  const probe = startBusyProbe({ threshold: gapMs - 0.001 });
  const value = await spec.run(input, options);
  // A frame later: the probe's late turn comes (and a long task is reported) only after the task
  // that delayed it is over, and `main-parse` returns within that very task.
  await frame();
  const tasks = longTasks.stop();
  const turns = probe.stop();
  await frame();
  recording = false;
  const records = value?.length ?? value?.doc?.length ?? null;
  if (keep) globalThis.__keptResult = value;
  else await spec.release?.(value);
  const gaps = [];
  for (let i = 1; i < stamps.length; i++) {
    if (stamps[i] - stamps[i - 1] > gapMs) gaps.push(Math.round(stamps[i] - stamps[i - 1]));
  }
  return {
    gaps,
    longTasks: tasks === null ? null : tasks.map((t) => Math.round(t.duration)),
    lateTurns: turns.blocks,
    frames: stamps.length,
    records,
  };
}

/** In the page: makes the dataset, then lets a second of frames pass (the collector's time). */
async function makeDatasetAndSettle(mb) {
  const { getDataset } = await import('./strategies.js');
  await getDataset('points', mb);
  for (let i = 0; i < 60; i++) await new Promise((resolve) => requestAnimationFrame(resolve));
}

/**
 * In the page: whether the result `gapsDuring` kept equals `JSON.parse` of the dataset's text,
 * record by record, keys in the same order; the kept result is let go.
 */
async function compareKept(mb) {
  const { getDataset, textOf, jsonEqual, sameKeyOrder } = await import('./strategies.js');
  const value = globalThis.__keptResult;
  delete globalThis.__keptResult;
  const expected = JSON.parse(textOf(await getDataset('points', mb)));
  const differs = [];
  if (!Array.isArray(value) || value.length !== expected.length) {
    differs.push(`length ${value?.length} vs JSON.parse ${expected.length}`);
  } else {
    for (let i = 0; i < expected.length && differs.length < 3; i++) {
      if (!jsonEqual(value[i], expected[i])) differs.push(`record ${i}: ${JSON.stringify(value[i])} vs ${JSON.stringify(expected[i])}`);
      else if (!sameKeyOrder(value[i], expected[i])) differs.push(`record ${i}: keys in another order`);
    }
  }
  return { ok: differs.length === 0, differs, records: expected.length };
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

    // The instrument of each engine: the Long Tasks API where it exists (Chromium), else the
    // event-loop probe's turns that came 50 ms or more late.
    const tasksOf = (run) => (run.longTasks !== null ? run.longTasks.length : run.lateTurns);
    const instrument = engine === 'chrome' ? 'long tasks (Long Tasks API)' : 'event-loop turns 50 ms or more late';

    test(`${engine}, ${MB} MB: objects equal JSON.parse with no main-thread task of ${GAP_MS} ms or more; main-parse has one`, { timeout: 400_000 }, async (t) => {
      assert.ok(browser, `could not launch ${engine}: ${launchError?.stack ?? launchError}`);
      const page = await browser.newPage();
      const pageErrors = [];
      page.on('pageerror', (err) => pageErrors.push(String(err?.stack ?? err)));
      try {
        await page.goto(server.url, { waitUntil: 'load', timeout: 60_000 });
        await page.waitForFunction(() => window.__demo !== undefined, { timeout: 30_000 });
        await page.evaluate(() => window.__demo.ready);
        // Chromium reports long tasks; Firefox must not, or the probe would not be what is tested.
        assert.equal(await page.evaluate(() => window.__demo.capabilities().longTasks), engine === 'chrome');
        await page.evaluate(makeDatasetAndSettle, MB);
        const attempts = [];
        for (let i = 0; i < 3; i++) {
          // The result is kept for the equality check until the next run starts.
          const run = await page.evaluate(gapsDuring, 'objects', MB, GAP_MS, true);
          assert.ok(run.records > 400_000, `objects: ${run.records} records`);
          attempts.push(run);
          if (tasksOf(run) === 0) break;
        }
        t.diagnostic(`objects: ${instrument} per run ${JSON.stringify(attempts.map(tasksOf))}; long tasks ${JSON.stringify(attempts.map((a) => a.longTasks))}, late turns ${JSON.stringify(attempts.map((a) => a.lateTurns))}, rAF gaps over ${GAP_MS} ms ${JSON.stringify(attempts.map((a) => a.gaps))}`);
        const equal = await page.evaluate(compareKept, MB);
        assert.ok(equal.ok, `objects differ from JSON.parse: ${equal.differs.join('; ')}`);
        assert.equal(tasksOf(attempts.at(-1)), 0, `objects: ${instrument} in each of ${attempts.length} runs: ${JSON.stringify(attempts.map(tasksOf))}`);
        const control = await page.evaluate(gapsDuring, 'main-parse', MB, GAP_MS);
        assert.ok(tasksOf(control) >= 1, `main-parse should make ${instrument}: ${JSON.stringify(control)}`);
        assert.deepEqual(pageErrors, []);
      } finally {
        await page.close().catch(() => {});
      }
    });
  });
}
