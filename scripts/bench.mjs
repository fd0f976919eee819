#!/usr/bin/env node
// `npm run bench`: measure the demo page's strategies in headless browsers and write a report.
//
//   npm run bench                       # setup + build, then every suite: Chromium and Firefox,
//                                       #   points and products, 1 / 10 / 50 / 100 MB, 3 runs each
//   npm run bench -- --quick            # points, 10 and 50 MB (under 4 minutes with the build)
//   npm run bench -- --no-build --engines=chromium --sizes=10 --strategies=handle,columns --runs=5
//   npm run bench -- --quick --screenshot=www/screenshot.png   # also: the page after a 50 MB run
//
// After a run the tables are also written into docs/benchmarks.md, between the markers
// `<!-- bench:begin -->` and `<!-- bench:end -->`, with a line naming the run (UTC time, browsers,
// options, machine); the prose around the markers is left alone. A partial run — one that
// --suites, --engines, --datasets, --sizes or --strategies narrows below its default set, or in
// which a browser could not be launched — leaves the docs as they are unless --docs is given, so
// a quick look at one case never replaces a full run's tables. --no-docs never writes them.
//
// Options: --quick, --runs=N (≥ 1; default 3), --engines=chromium,firefox, --datasets=points,products,
// --sizes=1,10,50,100, --strategies=main-parse,worker-clone,handle,columns,objects, --suites=json,
// --animate (keep the page's animation drawing during runs; see below), --no-build (skip setup and
// build: use the www/pkg that is there), --out=target/bench/report.json, --screenshot=PATH,
// --suites=json,rtt,cold,transfer,pool_scaling,throughput,memory,size, --cmp-runs=N, --rtt-calls=N,
// --docs (write docs/benchmarks.md even after a partial run), --no-docs (never write it).
//
// The page is served from www/ with COOP/COEP (cross-origin isolated) and the same strict CSP as the
// page tests, and driven through window.__demo (www/main.js). For each engine × dataset × size ×
// strategy: one warm-up run that also checks the result against JSON.parse (its numbers are
// dropped), then N measured runs; each reported figure is the median of its own N values. Chromium
// runs with --js-flags=--expose-gc, and the page collects garbage before every measured window.
// By default the page's drawing is off during the bench (`__demo.setAnimation(false)`): the rAF
// loop still runs and every frame gap is still measured, but an animated frame's own style/paint/
// commit work (~1.5–3 ms a frame in headless Chromium here) would otherwise count as "main thread
// blocked" in every row.
//
// Report: target/bench/report.json, an array of rows. The first row is {"row": "meta", ...} (date,
// options, browsers, machine); each JSON-strategy row is
//   {"row": "json", "engine": "chromium", "dataset": "points", "mb": 50, "strategy": "handle",
//    "total_ms", "main_blocked_ms", "main_busy_ms", "longest_task_ms", "max_gap_ms", "missed_frames",
//    "frames_lost", "long_tasks", "runs", "ok", "key_order", "bytes", "records"}
// (long_tasks is null in Firefox, which has no Long Tasks API; ok: the warm-up run's result equals
// JSON.parse's). Per engine, one {"row": "probe_control", "engine", "busy_ms", "main_blocked_ms",
// "main_blocked_max_ms", "main_busy_ms", "missed_frames", "runs"}: the same window around a plain
// worker spinning for busy_ms while the page does nothing — what the probe reads with no work on
// the main thread. Two instruments for the main thread: main_blocked_ms is the page's busy probe
// (www/probe.js: how late the thread answered, whatever the cause, the OS's descheduling
// included), every engine; main_busy_ms and longest_task_ms come from N more runs under a
// Chromium performance trace (scripts/trace.mjs: wall time of the main thread's tasks that did
// 1 ms or more of CPU work in the window; null in Firefox, whose driver here has no tracing). A failed cell is a row with "error" instead of numbers. More row kinds: add a
// suite to SUITES below; its rows go into the same report (e.g. {"row": "rtt", ...}).
//
// Comparison suites (issue 8): wasm-isolates ("ours": the hidden __bench* exports of the glue) side
// by side with the raw platform, Comlink 4 and workerpool 10, in one page (www/bench.html, driven
// through window.__bench in www/bench.js) and one run. That page is served by a second server with
// the same headers but `worker-src 'self'` (no blob: workers). Comlink's ESM build and workerpool's
// browser and worker bundles are copied from node_modules into www/bench-vendor/ (git-ignored by its
// own .gitignore). Each figure is the median of --cmp-runs runs (default 5 with --quick, 10
// otherwise; at least 5 is the point) with min and max; subjects run interleaved, run by run.
//   rtt            mean warm round trip of a tiny task per run (--rtt-calls calls; 200 quick, 1000):
//                  ours (__benchRoundTrips), raw postMessage, Comlink wrap/expose, workerpool exec
//   cold           ours (__benchColdStart: new pool, first task) vs raw (new module Worker, import
//                  the glue, initSync with the page's compiled WebAssembly.Module, first reply);
//                  first_task: ours __benchFirstTaskAfterReady (prewarmed pool)
//   transfer       main-thread ms to send / receive 50 MB: raw transfer vs copy, ours (transfer)
//   pool_scaling   ours __benchPoolScaling(16, 1) vs (16, hardwareConcurrency), and the speedup
//   throughput     10,000 tiny tasks, ours vs workerpool, hardwareConcurrency workers: tasks/s
//   memory         extra bytes of one idle isolate (measureUserAgentSpecificMemory; Chromium,
//                  cross-origin isolated), ours vs a raw worker with the module instantiated
//   typed          the seed's compute(parse_products, body) at 20/60/100 MB (20/60 quick): Rust
//                  `compute` (one-task decode) vs `run_vec` (batched) vs JSON.parse + map in JS;
//                  total ms, longest probe stall, missed frames, long tasks
//   size           (once, in node) wasm raw and gzip -9 with and without the `json` feature (the
//                  latter built into target/bench-nojson), and the JS glue
// Rows: {"row": "rtt", "engine", "subject": "ours"|"raw"|"comlink"|"workerpool", "median_ms",
// "min_ms", "max_ms", "runs"}; non-time rows carry "value" and "unit"; {"row": "ratio", "name",
// "value", "unit": "x", "goal"} rows hold the ratios printed; a failed subject is a row with "error".
// This file imports only node built-ins at top level: node_modules may not exist before setup.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---- options ---------------------------------------------------------------------------------
const ALL = {
  engines: ['chromium', 'firefox'],
  datasets: ['points', 'products'],
  sizes: [1, 10, 50, 100],
  strategies: ['main-parse', 'worker-clone', 'handle', 'columns', 'objects'],
};

export function parseArgs(argv) {
  const o = {
    quick: false, runs: 3, build: true, animate: false, suites: null, cmpRuns: null, rttCalls: null,
    out: path.join(ROOT, 'target', 'bench', 'report.json'), screenshot: null,
    engines: null, datasets: null, sizes: null, strategies: null,
    docs: null, // null: write docs/benchmarks.md unless the run is partial; true / false: --docs / --no-docs
  };
  const list = (v, known, name) => {
    const items = String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const item of items) {
      if (known && !known.map(String).includes(item)) throw new Error(`unknown ${name} "${item}" (known: ${known.join(', ')})`);
    }
    if (items.length === 0) throw new Error(`--${name} needs a value`);
    return items;
  };
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (key) {
      case '--quick': o.quick = true; break;
      case '--runs': o.runs = Number(value()); break;
      case '--cmp-runs': o.cmpRuns = Number(value()); break;
      case '--rtt-calls': o.rttCalls = Number(value()); break;
      case '--no-build': o.build = false; break;
      case '--animate': o.animate = true; break;
      case '--out': o.out = path.resolve(value()); break;
      case '--screenshot': o.screenshot = path.resolve(value()); break;
      case '--engines': o.engines = list(value(), ALL.engines, 'engines'); break;
      case '--datasets': o.datasets = list(value(), ALL.datasets, 'datasets'); break;
      case '--sizes': o.sizes = list(value(), null, 'sizes').map(Number); break;
      case '--strategies': o.strategies = list(value(), ALL.strategies, 'strategies'); break;
      case '--suites': o.suites = list(value(), SUITES.map((s) => s.name), 'suites'); break;
      case '--docs': case '--no-docs':
        if (o.docs !== null && o.docs !== (key === '--docs')) throw new Error('--docs and --no-docs contradict each other');
        o.docs = key === '--docs';
        break;
      case '-h': case '--help':
        console.log(fileHelp());
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${argv[i]} (see --help)`);
    }
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs must be a positive integer');
  o.cmpRuns ??= o.quick ? 5 : 10;
  o.rttCalls ??= o.quick ? 200 : 1000;
  if (!Number.isInteger(o.cmpRuns) || o.cmpRuns < 1) throw new Error('--cmp-runs must be a positive integer');
  if (!Number.isInteger(o.rttCalls) || o.rttCalls < 1) throw new Error('--rtt-calls must be a positive integer');
  if (o.sizes?.some((mb) => !(mb > 0 && mb <= 512))) throw new Error('--sizes must be in (0, 512] MB');
  // Which selections narrow the run below its default set (for --quick: the quick set), so that
  // its tables would stand for less than a full run's; the docs are then left alone by default.
  const defaults = {
    suites: SUITES.map((s) => s.name),
    engines: ALL.engines,
    datasets: o.quick ? ['points'] : ALL.datasets,
    sizes: o.quick ? [10, 50] : ALL.sizes,
    strategies: ALL.strategies,
  };
  o.narrowedBy = Object.keys(defaults).filter((k) => o[k] !== null && !sameSet(o[k], defaults[k]));
  o.engines ??= defaults.engines;
  o.datasets ??= defaults.datasets;
  o.sizes ??= defaults.sizes;
  o.strategies ??= defaults.strategies;
  return o;
}

const sameSet = (a, b) => a.length === b.length && a.every((x) => b.map(String).includes(String(x)));

function fileHelp() {
  return 'usage: node scripts/bench.mjs [--quick] [--runs=N] [--engines=chromium,firefox] [--datasets=points,products]\n'
    + '         [--sizes=1,10,50,100] [--strategies=...] [--suites=json,rtt,cold,transfer,pool_scaling,throughput,memory,size]\n'
    + '         [--cmp-runs=N] [--rtt-calls=N] [--animate] [--no-build] [--out=FILE] [--screenshot=PNG] [--docs | --no-docs]\n'
    + 'Writes its tables into docs/benchmarks.md unless --no-docs; a partial run (--suites, --engines, --datasets,\n'
    + '--sizes or --strategies narrower than the default, or a browser that did not launch) only with --docs.';
}

// ---- browsers --------------------------------------------------------------------------------
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX_BIN ?? '/usr/lib/firefox-esr/firefox-esr';
const VIEWPORT = { width: 1200, height: 1250, deviceScaleFactor: 1 };

// The page must work under a strict policy: no inline script, no eval; wasm compilation allowed.
const CSP = [
  "default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self' blob:", "style-src 'self'",
  "img-src 'self' data:", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'",
].join('; ');
// The comparison page: the same policy with `worker-src 'self'` only (no blob: workers for anyone).
const BENCH_CSP = CSP.replace("worker-src 'self' blob:", "worker-src 'self'");

function launchOptions(engine, profile) {
  if (engine === 'chromium') {
    return {
      executablePath: CHROMIUM,
      headless: true,
      defaultViewport: VIEWPORT,
      protocolTimeout: 600_000,
      timeout: 60_000,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
        // A benchmark wants the page treated as foreground all the time, and a collectable heap.
        '--disable-renderer-backgrounding', '--disable-background-timer-throttling',
        '--disable-backgrounding-occluded-windows', '--js-flags=--expose-gc',
        // measureUserAgentSpecificMemory() at once instead of at the next collection (up to 20 s).
        '--enable-blink-features=ForceEagerMeasureMemory',
        `--user-data-dir=${profile}`,
      ],
    };
  }
  return {
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    defaultViewport: VIEWPORT,
    userDataDir: profile,
    protocolTimeout: 600_000,
    timeout: 60_000,
  };
}

/** A fresh page on the demo, wasm initialised, with page errors collected into `problems`. */
async function openDemo(browser, url, problems) {
  const page = await browser.newPage();
  page.on('pageerror', (err) => problems.push(`pageerror: ${err?.message ?? err}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
  });
  await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => window.__demo !== undefined, { timeout: 30_000 });
  await page.evaluate(() => window.__demo.ready);
  return page;
}

/**
 * `__demo.runJson(strategy, options)` in the page. The result travels as JSON text: WebDriver BiDi
 * (Firefox) returns nested objects only to a limited depth.
 */
async function runJson(page, strategy, options) {
  return JSON.parse(await page.evaluate(async (s, o) => JSON.stringify(await window.__demo.runJson(s, o)), strategy, options));
}

/** The control row: a plain worker spins for CONTROL_MS while the page does nothing. */
const CONTROL_MS = 300;
async function probeControl(page, engine, runs, log) {
  const base = { row: 'probe_control', engine, busy_ms: CONTROL_MS };
  try {
    const control = (trace) => page.evaluate((ms, t) => window.__demo.probeControl(ms, { trace: t }), CONTROL_MS, trace);
    await control(false); // warm-up
    const probe = [];
    for (let i = 0; i < runs; i++) probe.push(await control(false));
    const work = [];
    if (engine === 'chromium') for (let i = 0; i < runs; i++) work.push(await traced(page, () => control(true)));
    const row = {
      ...base,
      main_blocked_ms: round1(median(probe.map((r) => r.mainBlockedMs))),
      main_blocked_max_ms: round1(Math.max(...probe.map((r) => r.mainBlockedMs))),
      main_busy_ms: work.length ? round1(median(work.map((w) => w.busyMs))) : null,
      missed_frames: median(probe.map((r) => r.missedFrames)),
      runs,
    };
    log(`${engine} control: a worker busy ${CONTROL_MS} ms, the page idle: probe blocked ${fmtMs(row.main_blocked_ms)} (max ${fmtMs(row.main_blocked_max_ms)}), busy ${fmtMs(row.main_busy_ms)}`);
    return row;
  } catch (err) {
    const error = String(err?.message ?? err).split('\n')[0];
    log(`${engine} control FAILED: ${error}`);
    return { ...base, error };
  }
}

/**
 * One run of `strategy` under a Chromium performance trace; the main thread's work in the
 * measured window (see scripts/trace.mjs).
 */
async function tracedWork(page, strategy, options) {
  return traced(page, () => runJson(page, strategy, { ...options, trace: true }));
}

/** Runs `fn` (which marks its window) under a Chromium performance trace; the main thread's work. */
async function traced(page, fn) {
  const { mainThreadWork, TRACE_CATEGORIES } = await import('./trace.mjs');
  await page.tracing.start({ categories: TRACE_CATEGORIES });
  let buffer;
  try {
    await fn();
  } finally {
    buffer = await page.tracing.stop();
  }
  const { traceEvents } = JSON.parse(Buffer.from(buffer).toString('utf8'));
  return mainThreadWork(traceEvents);
}

// ---- statistics ------------------------------------------------------------------------------
export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
const round1 = (x) => (x === null ? null : Math.round(x * 10) / 10);

// ---- suites ----------------------------------------------------------------------------------
// A suite: {name, describe, run(ctx) → rows}. ctx = {engine, browser, url, options, openDemo(),
// log(text)}. Rows are plain objects with a "row" kind; the harness adds nothing to them.

async function jsonSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await ctx.openDemo();
  const rows = [];
  try {
    await page.evaluate((on) => window.__demo.setAnimation(on), options.animate);
    rows.push(await probeControl(page, engine, options.runs, log));
    for (const dataset of options.datasets) {
      for (const mb of options.sizes) {
        const info = await page.evaluate((k, m) => window.__demo.generate(k, m), dataset, mb);
        log(`${engine} ${dataset} ${mb} MB: ${info.byteLength} bytes (generated in ${info.generateMs} ms)`);
        for (const strategy of options.strategies) {
          const base = { row: 'json', engine, dataset, mb, strategy };
          try {
            // Warm-up and check: the first run starts workers, compiles code paths; its numbers go.
            const first = await runJson(page, strategy, { kind: dataset, mb, verify: true });
            const runs = [];
            for (let i = 0; i < options.runs; i++) runs.push(await runJson(page, strategy, { kind: dataset, mb }));
            const med = (key) => round1(median(runs.map((r) => r[key])));
            // Chromium: as many runs again under a performance trace, for the main thread's own
            // work (scripts/trace.mjs). Separate runs: tracing costs every process a little, and
            // the probe's figures above are taken without it.
            const traced = [];
            if (engine === 'chromium') {
              for (let i = 0; i < options.runs; i++) traced.push(await tracedWork(page, strategy, { kind: dataset, mb }));
            }
            const row = {
              ...base,
              total_ms: med('totalMs'),
              main_blocked_ms: med('mainBlockedMs'),
              max_gap_ms: med('maxGapMs'),
              missed_frames: median(runs.map((r) => r.missedFrames)),
              frames_lost: median(runs.map((r) => r.framesLost)),
              long_tasks: runs[0].longTasks === null ? null : median(runs.map((r) => r.longTasks)),
              main_busy_ms: traced.length ? round1(median(traced.map((t) => t.busyMs))) : null,
              longest_task_ms: traced.length ? round1(median(traced.map((t) => t.longestMs))) : null,
              runs: runs.length,
              ok: first.ok,
              key_order: first.verify?.keyOrder ?? null,
              bytes: first.byteLength,
              records: first.verify?.expectedCount ?? first.checksum?.count ?? null,
            };
            if (!first.ok) row.problems = first.verify?.problems ?? [];
            rows.push(row);
            log(`  ${strategy.padEnd(12)} total ${fmtMs(row.total_ms)}  blocked ${fmtMs(row.main_blocked_ms)}  busy ${fmtMs(row.main_busy_ms)}  max gap ${fmtMs(row.max_gap_ms)}  missed ${row.missed_frames}${row.ok ? '' : '  CHECK FAILED'}`);
          } catch (err) {
            const error = String(err?.message ?? err).split('\n')[0];
            rows.push({ ...base, error });
            log(`  ${strategy.padEnd(12)} FAILED: ${error}`);
          }
        }
      }
    }
    if (options.screenshot && engine === 'chromium') await screenshot(page, options, log);
  } finally {
    await page.close().catch(() => {});
  }
  return rows;
}

/** The page after a 50 MB run of every strategy, with the drawing on (columns last: the scatter). */
async function screenshot(page, options, log) {
  const dataset = options.datasets.includes('points') ? 'points' : options.datasets[0];
  await page.evaluate(() => window.__demo.setAnimation(true));
  await page.evaluate(() => window.__demo.idleCost()); // for the page's † note
  await page.evaluate(() => document.querySelectorAll('#results tbody tr').forEach((tr) => tr.remove()));
  await page.evaluate((k) => {
    // Only the shown choice (no change event: that would generate the dataset again).
    document.getElementById('kind').value = k;
    document.getElementById('mb').value = '50';
  }, dataset);
  for (const s of ['main-parse', 'worker-clone', 'handle', 'objects', 'columns']) {
    await runJson(page, s, { kind: dataset, mb: 50, verify: s === 'columns' });
  }
  await new Promise((r) => setTimeout(r, 300));
  mkdirSync(path.dirname(options.screenshot), { recursive: true });
  await page.screenshot({ path: options.screenshot, fullPage: true });
  log(`screenshot: ${path.relative(ROOT, options.screenshot)}`);
}

// ---- comparison suites (www/bench.html) ------------------------------------------------------
const round3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);
const errorText = (err) => String(err?.message ?? err).split('\n')[0];

/** {median_ms, min_ms, max_ms, runs} of a list of milliseconds. */
function timeStats(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return { median_ms: round3(median(v)), min_ms: round3(Math.min(...v)), max_ms: round3(Math.max(...v)), runs: v.length };
}

/** A fresh bench page, `__bench.ready` awaited; page errors go into `problems`. */
async function openBenchPage(browser, url, problems) {
  const page = await browser.newPage();
  page.on('pageerror', (err) => problems.push(`bench.html pageerror: ${err?.message ?? err}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`bench.html console.error: ${msg.text()}`);
  });
  await page.goto(new URL('bench.html', url).href, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => window.__bench !== undefined, { timeout: 30_000 });
  await page.evaluate(() => window.__bench.ready);
  return page;
}

/** `window.__bench[fn](...args)` in the page; the value travels as JSON text (BiDi depth limits). */
async function benchCall(page, fn, ...args) {
  const text = await page.evaluate(
    async (name, a) => JSON.stringify(await window.__bench[name](...a)), fn, args,
  );
  return JSON.parse(text);
}

/**
 * Runs each subject's measurement `runs` times, interleaved (run 1 of every subject, then run 2...),
 * after `warmup` dropped runs each. A subject that throws is dropped from later runs and gets an
 * error row. `measure(subject)` → number (ms) or object; `collect` turns the values into a row.
 */
async function sideBySide(subjects, { runs, warmup = 1, measure, log, label }) {
  const values = new Map(subjects.map((s) => [s, []]));
  const errors = new Map();
  for (let i = -warmup; i < runs; i++) {
    for (const subject of subjects) {
      if (errors.has(subject)) continue;
      try {
        const v = await measure(subject);
        if (i >= 0) values.get(subject).push(v);
      } catch (err) {
        errors.set(subject, errorText(err));
        log(`  ${label} ${subject} FAILED: ${errorText(err)}`);
      }
    }
  }
  return { values, errors };
}

function ratioRow(engine, name, num, den, goal = null) {
  const value = typeof num === 'number' && typeof den === 'number' && den > 0 ? Math.round((num / den) * 100) / 100 : null;
  return { row: 'ratio', engine, name, value, unit: 'x', goal };
}
const medianOf = (rows, pred) => rows.find((r) => pred(r) && !r.error)?.median_ms ?? null;

/** Every comparison suite shares one bench page per engine (opened lazily by the first). */
function benchPage(ctx) {
  ctx.benchPage ??= ctx.openBench();
  return ctx.benchPage;
}

async function rttSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const calls = options.rttCalls;
  const subjects = ['ours', 'raw', 'comlink', 'workerpool'];
  const { values, errors } = await sideBySide(subjects, {
    runs: options.cmpRuns, log, label: 'rtt', measure: (s) => benchCall(page, 'rtt', s, calls),
  });
  const rows = subjects.map((subject) => (errors.has(subject)
    ? { row: 'rtt', engine, subject, error: errors.get(subject) }
    : { row: 'rtt', engine, subject, ...timeStats(values.get(subject)), calls_per_run: calls }));
  const raw = medianOf(rows, (r) => r.subject === 'raw');
  rows.push(ratioRow(engine, 'rtt ours / raw', medianOf(rows, (r) => r.subject === 'ours'), raw, '≤ 2'));
  rows.push(ratioRow(engine, 'rtt comlink / raw', medianOf(rows, (r) => r.subject === 'comlink'), raw));
  rows.push(ratioRow(engine, 'rtt workerpool / raw', medianOf(rows, (r) => r.subject === 'workerpool'), raw));
  return rows;
}

async function coldSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const subjects = ['ours', 'raw'];
  const { values, errors } = await sideBySide(subjects, {
    runs: options.cmpRuns, log, label: 'cold', measure: (s) => benchCall(page, 'cold', s),
  });
  const rows = subjects.map((subject) => (errors.has(subject)
    ? { row: 'cold', engine, subject, error: errors.get(subject) }
    : { row: 'cold', engine, subject, ...timeStats(values.get(subject)) }));
  rows.push(ratioRow(engine, 'cold ours / raw', medianOf(rows, (r) => r.subject === 'ours'), medianOf(rows, (r) => r.subject === 'raw'), '≤ 1.2'));
  const first = await sideBySide(['ours'], {
    runs: options.cmpRuns, log, label: 'first_task', measure: () => benchCall(page, 'firstTaskAfterReady'),
  });
  rows.push(first.errors.has('ours')
    ? { row: 'first_task', engine, subject: 'ours', error: first.errors.get('ours') }
    : { row: 'first_task', engine, subject: 'ours', ...timeStats(first.values.get('ours')), goal: '≤ 1 ms' });
  return rows;
}

async function transferSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const mb = 50;
  const cases = ['raw:transfer', 'raw:copy', 'ours:transfer'];
  const { values, errors } = await sideBySide(cases, {
    runs: options.cmpRuns, log, label: 'transfer',
    measure: (c) => benchCall(page, 'transfer', c.split(':')[0], c.split(':')[1], mb),
  });
  const rows = [];
  for (const c of cases) {
    const [subject, mode] = c.split(':');
    if (errors.has(c)) {
      rows.push({ row: 'transfer', engine, subject, mode, mb, error: errors.get(c) });
      continue;
    }
    for (const direction of ['send', 'receive']) {
      rows.push({ row: 'transfer', engine, subject, mode, direction, mb, ...timeStats(values.get(c).map((v) => v[`${direction}_ms`])) });
    }
  }
  return rows;
}

async function poolScalingSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const hc = (await benchCall(page, 'info')).hardwareConcurrency;
  const tasks = 16;
  const cases = [1, hc];
  const { values, errors } = await sideBySide(cases, {
    runs: options.cmpRuns, warmup: 0, log, label: 'pool_scaling', measure: (n) => benchCall(page, 'poolScaling', tasks, n),
  });
  const rows = cases.map((isolates) => (errors.has(isolates)
    ? { row: 'pool_scaling', engine, subject: 'ours', tasks, isolates, error: errors.get(isolates) }
    : { row: 'pool_scaling', engine, subject: 'ours', tasks, isolates, ...timeStats(values.get(isolates)) }));
  const r = ratioRow(engine, `pool_scaling speedup ${hc} isolates / 1`, medianOf(rows, (x) => x.isolates === 1), medianOf(rows, (x) => x.isolates === hc), `→ ${hc}`);
  rows.push(r);
  return rows;
}

async function throughputSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const hc = (await benchCall(page, 'info')).hardwareConcurrency;
  const tasks = 10_000;
  const subjects = ['ours', 'workerpool'];
  const { values, errors } = await sideBySide(subjects, {
    runs: options.cmpRuns, warmup: 0, log, label: 'throughput', measure: (s) => benchCall(page, 'throughput', s, tasks, hc),
  });
  const rows = subjects.map((subject) => {
    if (errors.has(subject)) return { row: 'throughput', engine, subject, tasks, isolates: hc, error: errors.get(subject) };
    const t = timeStats(values.get(subject));
    return { row: 'throughput', engine, subject, tasks, isolates: hc, ...t, value: Math.round((tasks / t.median_ms) * 1000), unit: 'tasks/s' };
  });
  rows.push(ratioRow(engine, 'throughput ours / workerpool (tasks/s)', medianOf(rows, (r) => r.subject === 'workerpool'), medianOf(rows, (r) => r.subject === 'ours')));
  return rows;
}

/**
 * The seed's typed example (issue 14): `compute(parse_products, body)` returning the products
 * as a Rust `Vec`, decoded in one task (`one`) or through `run_vec` in slices between frames
 * (`vec`), against the JS route (`JSON.parse` + mapping to plain records) in the same page.
 * Sizes: 20, 60 and 100 MB bodies (20 and 60 with --quick).
 */
async function typedSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const sizes = options.quick ? [20, 60] : [20, 60, 100];
  const routes = ['js', 'one', 'vec'];
  const rows = [];
  for (const mb of sizes) {
    const { values, errors } = await sideBySide(routes, {
      runs: Math.min(options.cmpRuns, 5), log, label: `typed ${mb} MB`,
      measure: (route) => benchCall(page, 'typed', route, mb),
    });
    for (const route of routes) {
      if (errors.has(route)) {
        rows.push({ row: 'typed', engine, route, mb, error: errors.get(route) });
        continue;
      }
      const runs = values.get(route);
      const med = (k) => round3(median(runs.map((r) => r[k]).filter((x) => typeof x === 'number')));
      rows.push({
        row: 'typed', engine, route, mb, runs: runs.length, records: runs[0]?.count ?? null,
        convert_ms: route === 'js' ? null : med('convert_ms'),
        total_ms: med('total_ms'), max_stall_ms: med('max_stall_ms'), blocked_ms: med('blocked_ms'),
        missed_frames: Math.max(...runs.map((r) => r.missed_frames)),
        long_tasks: runs[0]?.long_tasks === null ? null : Math.max(...runs.map((r) => r.long_tasks)),
        longest_task_ms: runs[0]?.longest_task_ms === null ? null : round3(Math.max(...runs.map((r) => r.longest_task_ms))),
      });
    }
  }
  return rows;
}

async function memorySuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const info = await benchCall(page, 'info');
  if (!info.crossOriginIsolated || !info.memoryApi) {
    const note = !info.crossOriginIsolated ? 'not measurable: the page is not cross-origin isolated'
      : 'not measurable: performance.measureUserAgentSpecificMemory() does not exist in this engine';
    return [{ row: 'memory', engine, subject: 'ours', value: null, unit: 'bytes', note }];
  }
  const subjects = ['ours', 'raw'];
  const { values, errors } = await sideBySide(subjects, {
    runs: options.cmpRuns, warmup: 0, log, label: 'memory', measure: (s) => benchCall(page, 'memory', s),
  });
  return subjects.map((subject) => {
    if (errors.has(subject)) return { row: 'memory', engine, subject, error: errors.get(subject) };
    const bytes = values.get(subject).map((v) => v.bytes);
    return {
      row: 'memory', engine, subject, value: median(bytes), min: Math.min(...bytes), max: Math.max(...bytes), unit: 'bytes', runs: bytes.length,
      note: subject === 'ours' ? 'one idle isolate (JS IsolatePool size 1 after a task)' : 'a module worker with the same module instantiated (initSync)',
    };
  });
}

/** wasm and glue sizes, with and without the `json` feature (built here into target/bench-nojson). */
async function sizeSuite({ log }) {
  const { gzipSync } = await import('node:zlib');
  const { existsSync, readFileSync } = await import('node:fs');
  const { run: runCmd } = await import('./build.mjs');
  const rows = [];
  const measure = (file, artifact, features) => {
    const bytes = readFileSync(file);
    rows.push({
      row: 'size', engine: null, subject: 'ours', artifact, features, value: bytes.length, unit: 'bytes',
      gzip_bytes: gzipSync(bytes, { level: 9 }).length, file: path.relative(ROOT, file),
    });
  };
  const pkg = path.join(ROOT, 'www', 'pkg');
  try {
    measure(path.join(pkg, 'wasm_isolates_bg.wasm'), 'wasm', 'default (json)');
    measure(path.join(pkg, 'wasm_isolates.js'), 'glue js', 'default (json)');
  } catch (err) {
    rows.push({ row: 'size', engine: null, subject: 'ours', features: 'default (json)', error: errorText(err) });
  }
  const target = path.join(ROOT, 'target', 'bench-nojson');
  const out = mkdtempSync(path.join(os.tmpdir(), 'wasm-isolates-nojson-'));
  try {
    let code = await runCmd('cargo', ['build', '--release', '--target', 'wasm32-unknown-unknown', '--lib', '--no-default-features'],
      { env: { ...process.env, CARGO_TARGET_DIR: target } });
    if (code !== 0) throw new Error(`cargo build --no-default-features failed (exit ${code})`);
    const wasm = path.join(target, 'wasm32-unknown-unknown', 'release', 'wasm_isolates.wasm');
    if (!existsSync(wasm)) throw new Error(`${wasm} was not produced`);
    code = await runCmd('wasm-bindgen', ['--target', 'web', '--out-dir', out, '--out-name', 'wasm_isolates', wasm]);
    if (code !== 0) throw new Error(`wasm-bindgen failed (exit ${code})`);
    measure(path.join(out, 'wasm_isolates_bg.wasm'), 'wasm', 'no default (no json)');
    measure(path.join(out, 'wasm_isolates.js'), 'glue js', 'no default (no json)');
    for (const r of rows) if (r.file?.startsWith('..')) r.file = `$TMP/${path.basename(r.file)}`;
  } catch (err) {
    rows.push({ row: 'size', engine: null, subject: 'ours', features: 'no default (no json)', error: errorText(err) });
    log(`size without json FAILED: ${errorText(err)}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return rows;
}

/** Comlink's ESM build and workerpool's bundles into www/bench-vendor/ (git-ignored), for bench.html. */
function copyVendor() {
  const dir = path.join(ROOT, 'www', 'bench-vendor');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, '.gitignore'), '# copied from node_modules by scripts/bench.mjs\n*\n');
  const nm = path.join(ROOT, 'node_modules');
  copyFileSync(path.join(nm, 'comlink', 'dist', 'esm', 'comlink.mjs'), path.join(dir, 'comlink.mjs'));
  copyFileSync(path.join(nm, 'workerpool', 'dist', 'workerpool.js'), path.join(dir, 'workerpool.js'));
  copyFileSync(path.join(nm, 'workerpool', 'dist', 'worker.js'), path.join(dir, 'workerpool-worker.js'));
}

// `once`: runs a single time before the browsers (no engine), e.g. cargo builds for sizes.
const SUITES = [
  { name: 'size', describe: 'wasm and glue sizes with and without the json feature', run: sizeSuite, once: true },
  { name: 'json', describe: 'big JSON: five strategies × datasets × sizes', run: jsonSuite },
  { name: 'rtt', describe: 'warm tiny round trip: ours, raw postMessage, Comlink, workerpool', run: rttSuite },
  { name: 'cold', describe: 'cold start: new pool + first task vs new Worker + instantiate; first task after ready', run: coldSuite },
  { name: 'transfer', describe: '50 MB main-thread send/receive: transfer vs copy', run: transferSuite },
  { name: 'pool_scaling', describe: '16 CPU-bound tasks on 1 vs hardwareConcurrency isolates', run: poolScalingSuite },
  { name: 'throughput', describe: '10,000 tiny tasks: ours vs workerpool', run: throughputSuite },
  { name: 'memory', describe: 'extra memory of one idle isolate', run: memorySuite },
  { name: 'typed', describe: "the seed's compute(parse_products, body): one task vs run_vec vs JSON.parse + map", run: typedSuite },
];

// ---- output ----------------------------------------------------------------------------------
function fmtMs(x) {
  return x === null || x === undefined ? '—' : `${x.toFixed(1)} ms`;
}

export function table(rows) {
  const json = rows.filter((r) => r.row === 'json');
  const cols = [
    ['engine', (r) => r.engine],
    ['dataset', (r) => r.dataset],
    ['MB', (r) => String(r.mb)],
    ['strategy', (r) => r.strategy],
    ['total ms', (r) => (r.error ? 'error' : r.total_ms.toFixed(1))],
    ['main blocked ms', (r) => (r.error ? '' : r.main_blocked_ms.toFixed(1))],
    ['main busy ms', (r) => (r.error ? '' : r.main_busy_ms === null ? 'n/a' : r.main_busy_ms.toFixed(1))],
    ['max gap ms', (r) => (r.error ? '' : r.max_gap_ms.toFixed(1))],
    ['missed frames', (r) => (r.error ? '' : String(r.missed_frames))],
    ['long tasks', (r) => (r.error ? '' : r.long_tasks === null ? 'n/a' : String(r.long_tasks))],
    ['runs', (r) => (r.error ? '' : String(r.runs))],
    ['= JSON.parse', (r) => (r.error ? r.error.slice(0, 60) : r.ok ? 'yes' : 'NO')],
  ];
  const cells = json.map((r) => cols.map(([, f]) => f(r)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const left = new Set([0, 1, 3, 11]);
  const line = (c) => c.map((v, i) => (left.has(i) ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(cols.map(([h]) => h)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** The comparison rows (everything but meta and json) and the ratios, as a text table. */
// What a comparison row measured, beyond its kind and subject (shared by the text and markdown tables).
function cmpDetail(r) {
  switch (r.row) {
    case 'rtt': return r.calls_per_run ? `${r.calls_per_run} calls/run` : '';
    case 'transfer': return [r.mode, r.direction, `${r.mb} MB`].filter(Boolean).join(' ');
    case 'pool_scaling': return `${r.tasks} tasks, ${r.isolates} isolate${r.isolates === 1 ? '' : 's'}`;
    case 'throughput': return `${r.tasks} tasks, ${r.isolates} workers`;
    case 'first_task': return 'prewarmed pool';
    case 'size': return `${r.artifact ?? ''} ${r.features ?? ''}`.trim();
    case 'memory': return r.note ?? '';
    default: return '';
  }
}

// A comparison row's figure: median (min–max), or its value and unit.
function cmpValue(r) {
  const num = (x, d = 3) => (typeof x === 'number' ? (Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(d)) : '—');
  const mib = (b) => (typeof b === 'number' ? `${(b / 1048576).toFixed(2)} MiB` : '—');
  if (r.error) return `error: ${r.error.slice(0, 70)}`;
  if (r.row === 'size') return `${r.value} B (gzip ${r.gzip_bytes} B)`;
  if (r.row === 'memory') return r.value === null ? 'n/a' : `${mib(r.value)} (${mib(r.min)}–${mib(r.max)})`;
  const t = `${num(r.median_ms)} ms (${num(r.min_ms)}–${num(r.max_ms)})`;
  return r.row === 'throughput' ? `${t} = ${r.value} tasks/s` : t;
}

export function compareTable(rows) {
  const other = rows.filter((r) => !['meta', 'json', 'ratio', 'probe_control', 'typed'].includes(r.row));
  const ratios = rows.filter((r) => r.row === 'ratio');
  if (other.length === 0 && ratios.length === 0) return '';
  const detail = cmpDetail;
  const value = cmpValue;
  const cols = ['row', 'engine', 'subject', 'detail', 'median (min–max)', 'runs'];
  const cells = other.map((r) => [r.row, r.engine ?? '—', r.subject ?? '', detail(r).slice(0, 60), value(r), r.runs === undefined ? '' : String(r.runs)]);
  for (const r of ratios) {
    cells.push(['ratio', r.engine ?? '—', '', r.name, r.value === null ? '—' : `${r.value.toFixed(2)}×`, r.goal ? `goal ${r.goal}` : '']);
  }
  const widths = cols.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

// ---- docs/benchmarks.md -----------------------------------------------------------------------
// The tables a reader sees in docs/benchmarks.md are written here, from the rows of a run, so no
// figure is ever copied by hand and each one sits under the line naming the run it came from.
export const DOCS_FILE = path.join(ROOT, 'docs', 'benchmarks.md');
export const DOCS_BEGIN = '<!-- bench:begin -->';
export const DOCS_END = '<!-- bench:end -->';

const ENGINE_NAMES = { chromium: 'Chromium', firefox: 'Firefox' };
const engineName = (e) => ENGINE_NAMES[e] ?? String(e);
// A table cell: `|` would end the cell and a newline the row.
const mdCell = (v) => (v === null || v === undefined || v === '' ? '—' : String(v)).replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const mdTable = (head, body) => [head, head.map(() => '---'), ...body].map((r) => `| ${r.map(mdCell).join(' | ')} |`).join('\n');
const fixed1 = (x) => (typeof x === 'number' ? x.toFixed(1) : '—');
const grouped = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '—');

/** `2026-11-27 16:40 UTC` from an ISO date (minutes are enough to tell runs apart). */
function utcMinute(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The line that names a run: when (UTC), the command, the browsers and their versions, the
 * options that shape the figures, and the machine. Everything in it comes from the report's
 * meta row, so a report written earlier renders the same line.
 */
export function runLine(meta) {
  const list = (xs) => (Array.isArray(xs) && xs.length ? xs.join(', ') : '—');
  const browsers = Object.entries(meta.browsers ?? {}).map(([e, v]) => `${engineName(e)} (${v})`);
  const command = Array.isArray(meta.args) ? `\`${['npm run bench', ...(meta.args.length ? ['--', ...meta.args] : [])].join(' ')}\`` : null;
  const options = [
    meta.quick ? '--quick' : 'full',
    `${meta.runs ?? '—'} measured runs per JSON cell`,
    `datasets ${list(meta.datasets)}`,
    `sizes ${list(meta.sizes)} MB`,
    `strategies ${list(meta.strategies)}`,
    `suites ${list(meta.suites)}`,
    `comparison runs ${meta.cmp_runs ?? '—'}`,
    `rtt calls per run ${meta.rtt_calls ?? '—'}`,
    meta.animate ? 'animation on' : 'animation off',
  ];
  const load = Array.isArray(meta.loadavg_start) && Array.isArray(meta.loadavg_end)
    ? `, load average ${meta.loadavg_start[0]} → ${meta.loadavg_end[0]}` : '';
  const machine = `nproc ${meta.nproc ?? '—'} (${meta.cpu ?? 'unknown CPU'}), Node ${meta.node ?? '—'}${load}`;
  return [
    `**Run:** ${utcMinute(meta.date)}`,
    ...(command ? [command] : []),
    `engines: ${browsers.length ? browsers.join(', ') : 'none launched'}`,
    `options: ${options.join('; ')}`,
    `machine: ${machine}`,
    ...(typeof meta.seconds === 'number' ? [`took ${meta.seconds} s`] : []),
  ].join(' · ');
}

/** The JSON strategies: one line per engine × dataset × size × strategy, in the run's order. */
function jsonSection(rows) {
  const json = rows.filter((r) => r.row === 'json');
  if (json.length === 0) return [];
  const body = json.map((r) => (r.error
    ? [engineName(r.engine), r.dataset, r.mb, r.strategy, `error: ${r.error.slice(0, 80)}`, '', '', '', '', '']
    : [engineName(r.engine), r.dataset, r.mb, r.strategy, fixed1(r.total_ms), fixed1(r.main_blocked_ms),
      r.main_busy_ms === null ? 'n/a' : fixed1(r.main_busy_ms), fixed1(r.max_gap_ms), r.missed_frames,
      r.ok ? 'yes' : 'NO']));
  // What each dataset was (the same seed gives the same text in every engine).
  const seen = new Map();
  for (const r of json) {
    const key = `${r.dataset} ${r.mb} MB`;
    if (!seen.has(key) && typeof r.bytes === 'number') seen.set(key, `${key}: ${grouped(r.bytes)} bytes, ${grouped(r.records)} records`);
  }
  const out = ['### Large JSON: the demo\'s strategies', '',
    mdTable(['engine', 'dataset', 'MB', 'strategy', 'total ms', 'main blocked ms (probe)', 'main busy ms (trace)',
      'longest frame gap ms', 'missed frames', '= JSON.parse'], body), ''];
  if (seen.size) out.push(`Datasets: ${[...seen.values()].join('; ')}.`, '');
  const control = rows.filter((r) => r.row === 'probe_control');
  if (control.length) {
    out.push('Control (the probe\'s floor): a plain worker busy while the page does nothing.', '',
      mdTable(['engine', 'worker busy ms', 'main blocked ms (probe), median (max)', 'main busy ms (trace)', 'missed frames'],
        control.map((r) => (r.error
          ? [engineName(r.engine), r.busy_ms, `error: ${r.error.slice(0, 80)}`, '', '']
          : [engineName(r.engine), r.busy_ms, `${fixed1(r.main_blocked_ms)} (${fixed1(r.main_blocked_max_ms)})`,
            r.main_busy_ms === null ? 'n/a' : fixed1(r.main_busy_ms), r.missed_frames]))), '');
  }
  return out;
}

/** The typed rows: one line per engine × size × route. */
function typedSection(rows) {
  const typed = rows.filter((r) => r.row === 'typed');
  if (typed.length === 0) return [];
  const route = { js: 'JSON.parse + map (JS)', one: 'compute → Vec (one task)', vec: 'run_vec → Vec (batched)' };
  return ["### Typed results: the seed's `compute(parse_products, body)`", '',
    mdTable(['engine', 'MB', 'route', 'products', 'JS→Rust string ms (apart)', 'total ms', 'longest stall ms (probe)', 'blocked ms (probe)',
      'missed frames (max)', 'long tasks (max)', 'longest task ms'],
    typed.map((r) => (r.error
      ? [engineName(r.engine), r.mb, route[r.route] ?? r.route, `error: ${r.error.slice(0, 80)}`, '', '', '', '', '', '', '']
      : [engineName(r.engine), r.mb, route[r.route] ?? r.route, grouped(r.records), r.convert_ms === null ? '—' : fixed1(r.convert_ms),
        fixed1(r.total_ms), fixed1(r.max_stall_ms),
        fixed1(r.blocked_ms), r.missed_frames, r.long_tasks ?? 'n/a', r.longest_task_ms === null ? 'n/a' : fixed1(r.longest_task_ms)]))),
    '', 'Medians of the runs, but missed frames and long tasks are the worst run\'s.', ''];
}

/** The comparison suites: one line per measure and subject, one column per engine. */
function compareSection(rows, engines) {
  const order = ['rtt', 'cold', 'first_task', 'transfer', 'pool_scaling', 'throughput', 'memory'];
  const cmp = rows.filter((r) => order.includes(r.row));
  const out = [];
  if (cmp.length) {
    const lines = new Map(); // key → {row, subject, detail, cells: {engine: text}}
    for (const r of [...cmp].sort((a, b) => order.indexOf(a.row) - order.indexOf(b.row))) {
      // A memory row's note is its reason when it could not be measured: keep engines on one line.
      const detail = r.row === 'memory' ? '' : cmpDetail(r);
      const key = `${r.row}|${r.subject ?? ''}|${detail}`;
      if (!lines.has(key)) lines.set(key, { row: r.row, subject: r.subject ?? '', detail, cells: {} });
      const line = lines.get(key);
      if (r.row === 'memory' && !r.error && r.value !== null && !line.detail) line.detail = r.note ?? '';
      line.cells[r.engine] = r.row === 'memory' && !r.error && r.value === null ? `n/a: ${r.note ?? ''}` : cmpValue(r);
    }
    out.push('### Against the raw platform and the peers', '',
      mdTable(['measure', 'subject', 'detail', ...engines.map(engineName)],
        [...lines.values()].map((l) => [l.row, l.subject, l.detail, ...engines.map((e) => l.cells[e] ?? '')])), '');
  }
  const ratios = rows.filter((r) => r.row === 'ratio');
  if (ratios.length) {
    const lines = new Map();
    for (const r of ratios) {
      if (!lines.has(r.name)) lines.set(r.name, { goal: r.goal, cells: {} });
      lines.get(r.name).cells[r.engine] = r.value === null ? '—' : `${r.value.toFixed(2)}×`;
    }
    out.push(mdTable(['ratio (medians divided)', ...engines.map(engineName), 'goal'],
      [...lines].map(([name, l]) => [name, ...engines.map((e) => l.cells[e] ?? ''), l.goal ?? ''])), '');
  }
  const sizes = rows.filter((r) => r.row === 'size');
  if (sizes.length) {
    out.push('### Sizes', '',
      mdTable(['artifact', 'features', 'bytes', 'gzip -9 bytes'],
        sizes.map((r) => (r.error
          ? [r.artifact ?? '', r.features ?? '', `error: ${r.error.slice(0, 80)}`, '']
          : [r.artifact, r.features, grouped(r.value), grouped(r.gzip_bytes)]))), '');
  }
  return out;
}

/**
 * The generated section of docs/benchmarks.md (what goes between the markers) for the rows of
 * one run, first row its meta. Pure: the same rows give the same text.
 */
export function renderBenchDocs(rows) {
  const meta = rows.find((r) => r.row === 'meta') ?? {};
  const engines = [...new Set([
    ...Object.keys(meta.browsers ?? {}),
    ...rows.filter((r) => r.row !== 'meta' && r.engine).map((r) => r.engine),
  ])];
  const out = [
    '<!-- Written by scripts/bench.mjs after each run; edits here are lost at the next run. -->',
    '',
    runLine(meta),
    '',
    ...jsonSection(rows),
    ...typedSection(rows),
    ...compareSection(rows, engines),
  ];
  if (meta.problems?.length) {
    out.push('Problems reported during this run:', '', ...meta.problems.map((p) => `- ${mdCell(String(p).slice(0, 200))}`), '');
  }
  if (out.length <= 4) out.push('This run produced no rows.', '');
  return out.join('\n').trimEnd();
}

/** `doc` with the text between the bench markers replaced by `section`; throws without markers. */
export function replaceBenchSection(doc, section) {
  // Only markers alone on their line count: the prose of the same file names them inline.
  const lines = doc.split('\n');
  const begin = lines.findIndex((l) => l.trim() === DOCS_BEGIN);
  const end = begin < 0 ? -1 : lines.findIndex((l, i) => i > begin && l.trim() === DOCS_END);
  if (begin < 0 || end < 0) throw new Error(`no ${DOCS_BEGIN} … ${DOCS_END} section (each alone on a line)`);
  return [...lines.slice(0, begin + 1), section.trim(), ...lines.slice(end)].join('\n');
}

/**
 * Whether this run may replace the docs' tables: not with --no-docs; after a partial run (a
 * selection narrower than the default, or a browser that did not launch) only with --docs.
 */
export function docsDecision(options, meta) {
  if (options.docs === false) return { write: false, reason: '--no-docs' };
  const partial = [
    ...(options.narrowedBy ?? []).map((k) => `--${k} narrows the run`),
    ...(options.engines ?? []).filter((e) => !meta.browsers?.[e]).map((e) => `${e} did not launch`),
  ];
  if (partial.length === 0) return { write: true, reason: 'a full run' };
  if (options.docs === true) return { write: true, reason: `--docs given (partial: ${partial.join('; ')})` };
  return { write: false, reason: `partial run: ${partial.join('; ')}; pass --docs to write it anyway` };
}

/** Replaces the generated section of `file` with this run's tables. */
export function writeBenchDocs(rows, file = DOCS_FILE) {
  writeFileSync(file, replaceBenchSection(readFileSync(file, 'utf8'), renderBenchDocs(rows)));
}

// ---- main ------------------------------------------------------------------------------------
function step(cmd, args) {
  return new Promise((resolve) => {
    console.log(`\n$ ${[cmd, ...args].join(' ')}`);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit' });
    child.on('error', (err) => {
      console.error(`failed to start ${cmd}: ${err.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err.message}`);
    process.exit(2);
  }
  const started = Date.now();
  if (options.build) {
    let code = await step('bash', [path.join('scripts', 'setup.sh')]);
    if (code !== 0) throw new Error(`setup failed (exit ${code})`);
    code = await step(process.execPath, [path.join('scripts', 'build.mjs'), '--features=bench']);
    if (code !== 0) throw new Error(`build failed (exit ${code})`);
  }
  const { default: puppeteer } = await import('puppeteer-core');
  const { serve } = await import('./serve.mjs');
  const server = await serve({ root: path.join(ROOT, 'www'), port: 0, coi: true, csp: CSP });
  const suites = SUITES.filter((s) => !options.suites || options.suites.includes(s.name));
  const log = (text) => console.log(`[bench] ${text}`);
  const needsBenchPage = suites.some((s) => !s.once && s.name !== 'json');
  let benchServer = null;
  let vendorProblem = null;
  if (needsBenchPage) {
    try {
      copyVendor();
    } catch (err) {
      vendorProblem = `copying the peers into www/bench-vendor failed: ${errorText(err)}`;
      log(vendorProblem);
    }
    benchServer = await serve({ root: path.join(ROOT, 'www'), port: 0, coi: true, csp: BENCH_CSP });
  }

  const meta = {
    row: 'meta',
    date: new Date().toISOString(),
    args: process.argv.slice(2), // the command line, so docs/benchmarks.md can name the run exactly
    quick: options.quick,
    runs: options.runs,
    animate: options.animate,
    suites: suites.map((s) => s.name),
    datasets: options.datasets,
    sizes: options.sizes,
    strategies: options.strategies,
    cpus: os.cpus().length,
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cmp_runs: options.cmpRuns,
    rtt_calls: options.rttCalls,
    cpu: os.cpus()[0]?.model ?? null,
    node: process.version,
    loadavg_start: os.loadavg().map((x) => Math.round(x * 100) / 100), // others' work on the same cores skews every figure
    browsers: {},
    problems: [],
  };
  const rows = [meta];
  let failed = false;
  if (vendorProblem) meta.problems.push(vendorProblem);
  try {
    for (const suite of suites.filter((s) => s.once)) {
      log(`suite ${suite.name} (${suite.describe})`);
      try {
        rows.push(...await suite.run({ options, log }));
      } catch (err) {
        const msg = `suite ${suite.name} failed: ${errorText(err)}`;
        log(msg);
        meta.problems.push(msg);
      }
    }
    meta.loadavg_browsers_start = os.loadavg().map((x) => Math.round(x * 100) / 100);
    for (const engine of options.engines) {
      const profile = mkdtempSync(path.join(os.tmpdir(), `wasm-isolates-bench-${engine}-`));
      let browser;
      try {
        browser = await puppeteer.launch(launchOptions(engine, profile));
      } catch (err) {
        const msg = `could not launch ${engine}: ${String(err?.message ?? err).split('\n')[0]}`;
        log(msg);
        meta.problems.push(msg);
        rmSync(profile, { recursive: true, force: true });
        if (engine === 'chromium') failed = true;
        continue;
      }
      try {
        meta.browsers[engine] = await browser.version();
        log(`${engine}: ${meta.browsers[engine]}`);
        const problems = [];
        const ctx = {
          engine, browser, url: server.url, options, log,
          openDemo: () => openDemo(browser, server.url, problems),
          openBench: () => openBenchPage(browser, benchServer.url, problems),
        };
        for (const suite of suites.filter((s) => !s.once)) {
          log(`suite ${suite.name} (${suite.describe}) in ${engine}`);
          try {
            rows.push(...await suite.run(ctx));
          } catch (err) {
            const msg = `${engine}: suite ${suite.name} failed: ${String(err?.message ?? err).split('\n')[0]}`;
            log(msg);
            meta.problems.push(msg);
            if (suite.name !== 'json') rows.push({ row: suite.name, engine, error: errorText(err) });
            failed = true;
          }
        }
        meta.problems.push(...problems.map((p) => `${engine}: ${p}`));
      } finally {
        await browser.close().catch(() => {});
        rmSync(profile, { recursive: true, force: true });
      }
    }
  } finally {
    await server.close();
    await benchServer?.close();
  }
  meta.seconds = Math.round((Date.now() - started) / 1000);
  meta.loadavg_end = os.loadavg().map((x) => Math.round(x * 100) / 100);
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(rows, null, 2)}\n`);
  if (rows.some((r) => r.row === 'json')) {
    console.log(`\n${table(rows)}\n`);
    console.log('total: end to end; main blocked: time the page could run nothing else (a probe asks for a turn every ms;');
    console.log('the OS descheduling the main thread counts too); main busy: wall time of main-thread tasks that worked 1 ms');
    console.log('or more, from a performance trace (Chromium); max gap: longest requestAnimationFrame gap; missed frames: rAF gaps');
    console.log('over 25 ms; medians of each figure.');
    for (const r of rows.filter((x) => x.row === 'probe_control')) {
      console.log(r.error
        ? `control (${r.engine}): FAILED: ${r.error}`
        : `control (${r.engine}): a plain worker busy ${r.busy_ms} ms, the page idle: main blocked ${fmtMs(r.main_blocked_ms)} `
          + `(max ${fmtMs(r.main_blocked_max_ms)}), main busy ${fmtMs(r.main_busy_ms)}: the probe's floor on this machine.`);
    }
  }
  const typedLines = typedSection(rows);
  if (typedLines.length) console.log(`\n${typedLines.join('\n')}`);
  const cmp = compareTable(rows);
  if (cmp) {
    console.log(`\n${cmp}\n`);
    console.log(`comparison rows: median (min–max) of ${options.cmpRuns} runs per subject, subjects interleaved in one page; rtt: mean of`);
    console.log(`${options.rttCalls} sequential calls per run; transfer: main-thread ms of the synchronous postMessage (send) and of the`);
    console.log("message handler's event.data access (receive); ratios: medians divided, goal beside.");
  }
  if (meta.problems.length) console.log(`\nproblems:\n  ${meta.problems.join('\n  ')}`);
  const docs = docsDecision(options, meta);
  const docsName = path.relative(process.cwd(), DOCS_FILE) || DOCS_FILE;
  if (docs.write) {
    try {
      writeBenchDocs(rows);
      console.log(`\ndocs: ${docsName} rewritten between its bench markers (${docs.reason})`);
    } catch (err) {
      console.error(`\ndocs: could not write ${docsName}: ${errorText(err)}`);
      process.exitCode = 1;
    }
  } else {
    console.log(`\ndocs: ${docsName} left as it was (${docs.reason})`);
  }
  console.log(`\nreport: ${path.relative(process.cwd(), options.out) || options.out} (${rows.length - 1} rows) in ${meta.seconds} s; `
    + `load average ${meta.loadavg_start[0]} at the start, ${meta.loadavg_end[0]} at the end (${meta.cpus} CPUs)`);
  const bad = rows.some((r) => r.row !== 'meta' && (r.error || r.ok === false));
  if (failed || bad) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`bench: ${err?.stack ?? err}`);
    process.exit(1);
  });
}
