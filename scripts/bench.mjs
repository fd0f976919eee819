#!/usr/bin/env node
// `npm run bench`: measure the demo page's strategies in browsers and write a report.
//
//   npm run bench                       # setup + build, then every suite: Chromium, Firefox and
//                                       #   WebKit, points and products, 1 / 10 / 50 / 100 MB, 3 runs each
//   npm run bench -- --quick            # points, 10 and 50 MB, fewer comparison runs
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
// Options: --quick, --runs=N (≥ 1; default 3), --engines=chromium,firefox,webkit,
// --datasets=points,products, --sizes=1,10,50,100, --strategies=main-parse,worker-clone,handle,
// handle-string (handle given the JS string, not the bytes),
// columns,objects, --animate (keep the page's animation drawing during runs; see below),
// --no-build (skip setup and build: use the www/pkg that is there), --out=target/bench/report.json,
// --screenshot=PATH, --suites=size,json,rtt,cold,transfer,pool_scaling,throughput,memory,js_task,
// parse_mbps,url,typed, --cmp-runs=N, --rtt-calls=N, --docs (write docs/benchmarks.md even after
// a partial run), --no-docs (never write it).
//
// Engines: Chromium (CDP) and Firefox (WebDriver BiDi) through puppeteer-core, headless; WebKit
// (WebKitGTK's MiniBrowser, isolated but without SharedArrayBuffer) through Debian's
// WebKitWebDriver over W3C WebDriver classic (scripts/webdriver-client.mjs), on an Xvfb display
// ($DISPLAY when set). WebKit runs the json suite at 10 and 50 MB, rtt, cold, js_task,
// parse_mbps and url; what needs CDP (the trace) or the Long Tasks API is null there. benchPlan()
// says what a run will measure where, and is printed first.
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
// 1 ms or more of CPU work in the window; null in Firefox and WebKit, whose drivers here cannot
// trace). A failed cell is a row with "error" instead of numbers. More row kinds: add a suite to
// SUITES below; its rows go into the same report (e.g. {"row": "rtt", ...}).
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
//   js_task        (issue 16) a JS task: ours = IsolatePool.run(moduleUrl, 'noop', []) of the
//                  plain module www/bench-task.js (the JS API, not __bench*). js_rtt: warm round
//                  trip vs Comlink and workerpool (goal ours ≤ Comlink); js_throughput: 10,000
//                  tasks on hardwareConcurrency workers vs workerpool (goal tasks/s ≥ workerpool's)
//   parse_mbps     (issue 18) __benchParseMbps: the tape parse alone inside an isolate (no
//                  transfer, no generation in the clock), points and products of PARSE_MB MB,
//                  in MB/s (10^6 bytes per second)
//   url            (issue 18) parseJson(new URL(...), {mode: 'handle'}) end to end at 50 and 100
//                  MB next to fetch-only (an isolate fetching the URL into bytes) and parse-only
//                  (the same bytes in memory to parseJson); goal url ≤ 1.15 × the larger. The
//                  documents are the demo's points, written before the browsers start into
//                  www/bench-vendor/data/ and removed after the run
//   typed          the seed's compute(parse_products, body) at 20/60/100 MB (20/60 quick): Rust
//                  `compute` (one-task decode) vs `run_vec` (batched) vs JSON.parse + map in JS;
//                  total ms, longest probe stall, missed frames, long tasks
//   size           (once, in node) wasm raw and gzip -9 of three feature sets as the package build
//                  makes them (the package; the JS API without json; the Rust-only core), each in a
//                  target dir of its own (target/bench-size, bench-nojson, bench-core), and the JS glue
// Rows: {"row": "rtt", "engine", "subject": "ours"|"raw"|"comlink"|"workerpool", "median_ms",
// "min_ms", "max_ms", "runs"}; non-time rows carry "value" and "unit" (parse_mbps: MB/s of the
// median run, with min_value and max_value); url rows carry "case", "bytes", "records" and "ok"
// (every run saw the whole document); {"row": "ratio", "name",
// "value", "unit": "x", "goal"} rows hold the ratios printed; a failed subject is a row with "error".
// This file imports only node built-ins at top level: node_modules may not exist before setup.

import { spawn } from 'node:child_process';
import {
  closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---- options ---------------------------------------------------------------------------------
const ALL = {
  engines: ['chromium', 'firefox', 'webkit'],
  datasets: ['points', 'products'],
  sizes: [1, 10, 50, 100],
  strategies: ['main-parse', 'worker-clone', 'handle', 'handle-string', 'columns', 'objects'],
};

// Strategies that are another strategy of the page's on another input: `handle-string` is
// `handle` given the JS string (what `await response.text()` gives, and what `main-parse` starts
// from) instead of the UTF-8 bytes.
const STRATEGY_INPUTS = {
  'handle-string': ['handle', { input: 'string' }],
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
  return 'usage: node scripts/bench.mjs [--quick] [--runs=N] [--engines=chromium,firefox,webkit] [--datasets=points,products]\n'
    + `         [--sizes=1,10,50,100] [--strategies=...] [--suites=${SUITES.map((s) => s.name).join(',')}]\n`
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

// ---- WebKit --------------------------------------------------------------------------------
// WebKitGTK's MiniBrowser, driven by Debian's WebKitWebDriver over W3C WebDriver classic
// (scripts/webdriver-client.mjs): puppeteer-core speaks only CDP and WebDriver BiDi, which that
// driver does not. MiniBrowser has no headless mode, so it runs on a virtual display (Xvfb, or
// $DISPLAY when set). What WebDriver classic cannot give (no CDP: no performance trace, and
// WebKit has no Long Tasks API) is null in WebKit's rows and `n/a` in the tables.

/** How long one call into a WebKit page may take (a 50 MB `objects` run on a busy machine included). */
const WEBKIT_CALL_MS = 600_000;

/**
 * A WebKit "browser": an X display and one WebDriver session per opened page (each session is
 * its own MiniBrowser, as a puppeteer page is its own tab). The session started here to learn
 * the version serves the first page. Rejects when Xvfb, the driver or MiniBrowser cannot start.
 */
async function launchWebKitBrowser() {
  const { launchWebKit, startXvfb } = await import('./webdriver-client.mjs');
  const xvfb = process.env.DISPLAY ? null : await startXvfb();
  const display = process.env.DISPLAY ?? xvfb.display;
  let spare;
  try {
    spare = await launchWebKit({ display });
  } catch (err) {
    await xvfb?.close();
    throw err;
  }
  const caps = spare.capabilities ?? {};
  const version = `${caps.browserName ?? 'WebKit'}/${caps.browserVersion ?? 'unknown'}`;
  const sessions = new Set([spare]);
  return {
    version: () => version,
    /** A WebDriver session of its own (the spare one first). */
    async session() {
      if (spare) {
        const s = spare;
        spare = null;
        return s;
      }
      const s = await launchWebKit({ display });
      sessions.add(s);
      return s;
    },
    async release(session) {
      sessions.delete(session);
      await session.close();
    },
    async close() {
      await Promise.all([...sessions].map((s) => s.close()));
      sessions.clear();
      await xvfb?.close();
    },
  };
}

/**
 * `url` in a WebKit session of its own, once `window[hook].ready` has resolved: an object with
 * the two methods the suites use of a puppeteer page, `evaluate(fn, ...args)` and `close()`.
 * WebDriver classic has no event stream, so errors, unhandled rejections and CSP violations are
 * recorded in the page by listeners installed right after navigation; `close()` moves them
 * into `problems`.
 */
async function openWebKitPage(browser, url, hook, problems, label) {
  const wk = await browser.session();
  try {
    await wk.navigate(url);
    await wk.execute(`
      window.__problems = [];
      addEventListener('error', (e) => window.__problems.push('error: ' + (e.message || e.type) + ' at ' + (e.filename || '?') + ':' + (e.lineno || 0)), true);
      addEventListener('unhandledrejection', (e) => window.__problems.push('unhandledrejection: ' + (e.reason && e.reason.stack || e.reason)));
      document.addEventListener('securitypolicyviolation', (e) => window.__problems.push('CSP: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)')));
    `);
    await wk.waitFor((h) => window[h] !== undefined, [hook], { timeoutMs: 30_000, what: `window.${hook}` });
    await wk.evaluate((h) => window[h].ready.then(() => true), [hook], 120_000);
  } catch (err) {
    await browser.release(wk);
    throw err;
  }
  let closed = false;
  return {
    evaluate: (fn, ...args) => wk.evaluate(fn, args, WEBKIT_CALL_MS),
    async close() {
      if (closed) return;
      closed = true;
      try {
        const seen = await wk.evaluate(() => window.__problems ?? [], [], 10_000);
        problems.push(...seen.map((p) => `${label} ${p}`));
      } catch (err) {
        problems.push(`${label}: could not read the page's problems: ${errorText(err)}`);
      }
      await browser.release(wk);
    },
  };
}

/**
 * `__demo.runJson(strategy, options)` in the page. The result travels as JSON text: WebDriver BiDi
 * (Firefox) returns nested objects only to a limited depth.
 */
async function runJson(page, strategy, options) {
  const [name, input] = STRATEGY_INPUTS[strategy] ?? [strategy, {}];
  return JSON.parse(await page.evaluate(async (s, o) => JSON.stringify(await window.__demo.runJson(s, o)), name, { ...options, ...input }));
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

/** The sizes the json suite runs in `engine`: WebKit only 10 and 50 MB (issue 15's rows). */
export function jsonSizes(engine, options) {
  return engine === 'webkit' ? options.sizes.filter((mb) => WEBKIT_JSON_SIZES.includes(mb)) : options.sizes;
}
const WEBKIT_JSON_SIZES = [10, 50];

async function jsonSuite(ctx) {
  const { engine, options, log } = ctx;
  const sizes = jsonSizes(engine, options);
  if (sizes.length === 0) {
    log(`${engine}: no json rows (it runs ${WEBKIT_JSON_SIZES.join(' and ')} MB only; --sizes=${options.sizes.join(',')})`);
    return [];
  }
  const page = await ctx.openDemo();
  const rows = [];
  try {
    await page.evaluate((on) => window.__demo.setAnimation(on), options.animate);
    rows.push(await probeControl(page, engine, options.runs, log));
    for (const dataset of options.datasets) {
      for (const mb of sizes) {
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

/**
 * A JS task (issue 16): ours is `IsolatePool.run(moduleUrl, 'noop', [])` of the plain task
 * module www/bench-task.js — the JS API, not the Rust `__bench*` path of the rtt suite —
 * against Comlink and workerpool calling the same tiny function, in the same page and run.
 * js_rtt: mean warm round trip over --rtt-calls sequential calls on one worker each;
 * js_throughput: 10,000 tasks on hardwareConcurrency workers, ours against workerpool.
 */
async function jsTaskSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const calls = options.rttCalls;
  const subjects = ['ours', 'comlink', 'workerpool'];
  const rtt = await sideBySide(subjects, {
    runs: options.cmpRuns, log, label: 'js_rtt', measure: (s) => benchCall(page, 'jsRtt', s, calls),
  });
  const rows = subjects.map((subject) => (rtt.errors.has(subject)
    ? { row: 'js_rtt', engine, subject, error: rtt.errors.get(subject) }
    : { row: 'js_rtt', engine, subject, ...timeStats(rtt.values.get(subject)), calls_per_run: calls }));
  const ours = medianOf(rows, (r) => r.row === 'js_rtt' && r.subject === 'ours');
  rows.push(ratioRow(engine, 'js_rtt ours / comlink', ours, medianOf(rows, (r) => r.row === 'js_rtt' && r.subject === 'comlink'), '≤ 1'));
  rows.push(ratioRow(engine, 'js_rtt ours / workerpool', ours, medianOf(rows, (r) => r.row === 'js_rtt' && r.subject === 'workerpool')));
  const hc = (await benchCall(page, 'info')).hardwareConcurrency;
  const tasks = 10_000;
  const peers = ['ours', 'workerpool'];
  const tp = await sideBySide(peers, {
    runs: options.cmpRuns, warmup: 0, log, label: 'js_throughput', measure: (s) => benchCall(page, 'jsThroughput', s, tasks, hc),
  });
  for (const subject of peers) {
    if (tp.errors.has(subject)) {
      rows.push({ row: 'js_throughput', engine, subject, tasks, isolates: hc, error: tp.errors.get(subject) });
      continue;
    }
    const t = timeStats(tp.values.get(subject));
    rows.push({ row: 'js_throughput', engine, subject, tasks, isolates: hc, ...t, value: Math.round((tasks / t.median_ms) * 1000), unit: 'tasks/s' });
  }
  // tasks/s ours / workerpool = workerpool's ms / ours.
  rows.push(ratioRow(engine, 'js_throughput ours / workerpool (tasks/s)',
    medianOf(rows, (r) => r.row === 'js_throughput' && r.subject === 'workerpool'),
    medianOf(rows, (r) => r.row === 'js_throughput' && r.subject === 'ours'), '≥ 1'));
  return rows;
}

/** The dataset size `parse_mbps` parses (MiB, as the demo's sizes are). */
export const PARSE_MB = 20;

/** The datasets `parse_mbps` parses: both, unless --datasets narrows the run. */
function parseDatasets(options) {
  return options.narrowedBy?.includes('datasets') ? options.datasets : ALL.datasets;
}

/**
 * Isolate-side parse throughput (issue 18): `__benchParseMbps` generates the demo's dataset in
 * an isolate and times the tape parse alone there (no transfer, no reply), --cmp-runs times
 * after one dropped warm-up run. MB/s is 10^6 bytes per second of the median run.
 */
async function parseMbpsSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const rows = [];
  for (const dataset of parseDatasets(options)) {
    const base = { row: 'parse_mbps', engine, subject: 'ours', dataset, mb: PARSE_MB };
    try {
      const { bytes, ms } = await benchCall(page, 'parseMbps', dataset, PARSE_MB, options.cmpRuns);
      const t = timeStats(ms);
      const mbps = (x) => (typeof x === 'number' && x > 0 ? Math.round(bytes / 1e3 / x) : null); // bytes / 1e6 / (ms / 1e3)
      rows.push({ ...base, bytes, ...t, value: mbps(t.median_ms), min_value: mbps(t.max_ms), max_value: mbps(t.min_ms), unit: 'MB/s' });
      log(`  parse ${dataset} ${PARSE_MB} MB: ${mbps(t.median_ms)} MB/s (median ${fmtMs(t.median_ms)})`);
    } catch (err) {
      rows.push({ ...base, error: errorText(err) });
      log(`  parse_mbps ${dataset} FAILED: ${errorText(err)}`);
    }
  }
  return rows;
}

/** The sizes of the `url` rows (MiB). */
export const URL_SIZES = [50, 100];
const URL_CASES = ['url', 'fetch-only', 'parse-only'];
const URL_DATA_DIR = path.join(ROOT, 'www', 'bench-vendor', 'data');
const urlDataPath = (mb) => `bench-vendor/data/points-${mb}mb.json`;

/**
 * Before the browsers: the `points` documents the `url` rows fetch, written under
 * www/bench-vendor/data/ (git-ignored with the rest of bench-vendor) and removed after the run.
 * They are the json suite's points (writePointsDataset), so the rows' bytes and records can be
 * checked against the datasets line of the JSON table.
 */
function prepareUrlData({ log }) {
  mkdirSync(URL_DATA_DIR, { recursive: true });
  const data = {};
  for (const mb of URL_SIZES) {
    const t0 = performance.now();
    data[mb] = { path: urlDataPath(mb), ...writePointsDataset(path.join(ROOT, 'www', urlDataPath(mb)), mb, DEMO_SEED) };
    log(`url: wrote ${data[mb].path}, ${data[mb].bytes} bytes, ${data[mb].records} records (${Math.round(performance.now() - t0)} ms)`);
  }
  return { data, cleanup: () => rmSync(URL_DATA_DIR, { recursive: true, force: true }) };
}

/**
 * A URL source end to end (issue 18): `parseJson(new URL(...), {mode: 'handle'})`, the isolate
 * fetching and parsing, next to fetch-only (an isolate fetching the same URL into an
 * ArrayBuffer: the JS task `fetchBytes` of www/bench-task.js) and parse-only (the same bytes,
 * fetched by the page before the clock starts, to `parseJson(bytes, {mode: 'handle'})`), cases
 * interleaved, run by run. Goal: url ≤ 1.15 × the larger of the other two.
 */
async function urlSuite(ctx) {
  const { engine, options, log } = ctx;
  const page = await benchPage(ctx);
  const data = ctx.prepared?.url;
  if (!data) throw new Error('the url documents were not written (see the problems above)');
  const rows = [];
  for (const mb of URL_SIZES) {
    const { path: file, bytes, records } = data[mb];
    const { values, errors } = await sideBySide(URL_CASES, {
      runs: options.cmpRuns, log, label: `url ${mb} MB`, measure: (c) => benchCall(page, 'urlSource', c, file),
    });
    for (const c of URL_CASES) {
      const base = { row: 'url', engine, subject: 'ours', case: c, mb };
      if (errors.has(c)) {
        rows.push({ ...base, error: errors.get(c) });
        continue;
      }
      const runs = values.get(c);
      // Every run saw the whole document: fetch-only its bytes, the parses its records too.
      const ok = runs.every((r) => r.bytes === bytes && (r.records === null || r.records === records));
      rows.push({ ...base, bytes, records, ...timeStats(runs.map((r) => r.ms)), ok });
      if (!ok) log(`  url ${mb} MB ${c}: expected ${bytes} bytes / ${records} records, got ${JSON.stringify(runs.map((r) => [r.bytes, r.records]))}`);
    }
    const med = (c) => medianOf(rows, (r) => r.mb === mb && r.case === c);
    const fetchOnly = med('fetch-only');
    const parseOnly = med('parse-only');
    const larger = typeof fetchOnly === 'number' && typeof parseOnly === 'number' ? Math.max(fetchOnly, parseOnly) : null;
    rows.push(ratioRow(engine, `url ${mb} MB / max(fetch-only, parse-only)`, med('url'), larger, '≤ 1.15'));
  }
  return rows;
}

/** The seed of the demo's datasets (DEFAULT_SEED in www/strategies.js). */
const DEMO_SEED = 42;

/**
 * Writes the demo's `points` dataset of about `megabytes` MiB with `seed` to `file`: the same
 * text as src/json/dataset.rs generates in an isolate (its xorshift64* generator, record for
 * record), so that the `url` rows fetch the bytes the json suite parses. Node cannot run that
 * generator (it is a task of the wasm module, which needs workers), hence this twin; the
 * url rows' byte and record counts show whether the two agree. Returns {bytes, records}.
 */
export function writePointsDataset(file, megabytes, seed) {
  const rng = xorshift64star(seed);
  const unit = () => {
    const r = rng();
    return (r.hi * 2 ** 21 + (r.lo >>> 11)) / 2 ** 53; // (x >> 11) as f64 / 2^53
  };
  const below = (n) => {
    const r = rng();
    return ((r.hi % n) * (2 ** 32 % n) + (r.lo % n)) % n; // x % n of the 64-bit x
  };
  const statuses = ['moving', 'idle', 'delivering'];
  const target = Math.floor(megabytes * 1024 * 1024);
  const fd = openSync(file, 'w');
  try {
    let length = 1;
    let chunk = '[';
    let id = 0;
    while (length < target || id === 0) {
      // The arguments in the order dataset.rs's format! evaluates them.
      const courier = below(500);
      const lat = 48 + unit() * 4;
      const lon = 2 + unit() * 6;
      const speed = unit() * 90;
      const ts = 1_700_000_000_000 + id * 1000;
      const status = statuses[below(3)];
      const record = `${id > 0 ? ',' : ''}{"id":${id},"courier":"c-${courier}","lat":${lat.toFixed(6)},"lon":${lon.toFixed(6)},"speed":${speed.toFixed(2)},"ts":${ts},"status":"${status}"}`;
      chunk += record;
      length += record.length; // ASCII only: characters are bytes
      id++;
      if (chunk.length >= 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, `${chunk}]`);
    return { bytes: length + 1, records: id };
  } finally {
    closeSync(fd);
  }
}

/**
 * xorshift64* (src/json/dataset.rs's `Rng`) on two 32-bit halves: BigInt arithmetic made a
 * 100 MB document take 16 s here, this about a tenth of that. Each call returns {hi, lo}, the
 * 64-bit output `state * 0x2545F4914F6CDD1D mod 2^64` (the object is reused).
 */
export function xorshift64star(seed) {
  const s = Math.max(1, seed);
  let hi = Math.floor(s / 2 ** 32) >>> 0;
  let lo = s >>> 0;
  const MUL_HI = 0x2545F491;
  const MUL_LO = 0x4F6CDD1D;
  const out = { hi: 0, lo: 0 };
  return () => {
    // state ^= state >> 12; state ^= state << 25; state ^= state >> 27 (each half from the old other half).
    lo = (lo ^ ((lo >>> 12) | (hi << 20))) >>> 0;
    hi = (hi ^ (hi >>> 12)) >>> 0;
    hi = (hi ^ ((hi << 25) | (lo >>> 7))) >>> 0;
    lo = (lo ^ (lo << 25)) >>> 0;
    lo = (lo ^ ((lo >>> 27) | (hi << 5))) >>> 0;
    hi = (hi ^ (hi >>> 27)) >>> 0;
    // state * MUL mod 2^64: lo * MUL_LO exactly (16-bit halves of lo keep every product below
    // 2^53), plus the low 32 bits of the two cross products in the high half.
    const p0 = (lo & 0xffff) * MUL_LO;
    const p1 = (lo >>> 16) * MUL_LO;
    const mid = (p1 % 65536) * 65536 + (p0 % 4294967296);
    const carry = Math.floor(p1 / 65536) + Math.floor(p0 / 4294967296) + Math.floor(mid / 4294967296);
    out.lo = mid % 4294967296;
    out.hi = (carry + Math.imul(lo, MUL_HI) + Math.imul(hi, MUL_LO)) >>> 0;
    return out;
  };
}

/** wasm and glue sizes of three feature sets, each built here as the package build makes it. */
async function sizeSuite({ log }) {
  const { gzipSync } = await import('node:zlib');
  const { readFileSync } = await import('node:fs');
  const rows = [];
  const measure = (file, artifact, features) => {
    const bytes = readFileSync(file);
    rows.push({
      row: 'size', engine: null, subject: 'ours', artifact, features, value: bytes.length, unit: 'bytes',
      gzip_bytes: gzipSync(bytes, { level: 9 }).length, file: path.relative(ROOT, file),
    });
  };
  // Each feature set as the package build makes it (release, wasm-opt with the package's flags),
  // in a target dir of its own: the npm package (the JSON service and the JS API), the JS API
  // without the JSON service, and the Rust-only core (a crate that turns default features off).
  const { build } = await import('./build.mjs');
  const configs = [
    { features: 'default (json + js)', cargo: { features: [] }, dir: 'bench-size' },
    { features: 'js, no json', cargo: { defaultFeatures: false, features: ['js'] }, dir: 'bench-nojson' },
    { features: 'Rust only (no js, no json)', cargo: { defaultFeatures: false, features: [] }, dir: 'bench-core' },
  ];
  for (const { features, cargo, dir } of configs) {
    const out = mkdtempSync(path.join(os.tmpdir(), 'wasm-isolates-size-'));
    try {
      await build({ ...cargo, outDir: out, targetDir: path.join(ROOT, 'target', dir), entry: false });
      measure(path.join(out, 'wasm_isolates_bg.wasm'), 'wasm', features);
      measure(path.join(out, 'wasm_isolates.js'), 'glue js', features);
      for (const r of rows) if (r.file?.startsWith('..') || r.file?.startsWith('/')) r.file = `$TMP/${path.basename(r.file)}`;
    } catch (err) {
      rows.push({ row: 'size', engine: null, subject: 'ours', features, error: errorText(err) });
      log(`size (${features}) FAILED: ${errorText(err)}`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
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
// `engines`: where the suite runs (all by default); WebKit runs issue 15's rows (json at 10 and
// 50 MB, rtt, cold) and the rows that ask for every engine (js_task, parse_mbps, url).
// `prepare(ctx)`: before the browsers, returns {data (ctx.prepared[name]), cleanup()}.
// `plan(engine, options)`: what it will measure there, for the plan printed first (benchPlan).
const NOT_WEBKIT = ['chromium', 'firefox'];
const SUITES = [
  { name: 'size', describe: 'wasm and glue sizes with and without the json feature', run: sizeSuite, once: true },
  {
    name: 'json', describe: 'big JSON: six strategies × datasets × sizes', run: jsonSuite,
    plan: (engine, o) => ({ datasets: o.datasets, sizes: jsonSizes(engine, o), strategies: o.strategies }),
  },
  { name: 'rtt', describe: 'warm tiny round trip: ours, raw postMessage, Comlink, workerpool', run: rttSuite },
  { name: 'cold', describe: 'cold start: new pool + first task vs new Worker + instantiate; first task after ready', run: coldSuite },
  { name: 'transfer', describe: '50 MB main-thread send/receive: transfer vs copy', run: transferSuite, engines: NOT_WEBKIT },
  { name: 'pool_scaling', describe: '16 CPU-bound tasks on 1 vs hardwareConcurrency isolates', run: poolScalingSuite, engines: NOT_WEBKIT },
  { name: 'throughput', describe: '10,000 tiny tasks: ours vs workerpool', run: throughputSuite, engines: NOT_WEBKIT },
  { name: 'memory', describe: 'extra memory of one idle isolate', run: memorySuite, engines: NOT_WEBKIT },
  { name: 'js_task', describe: 'a JS task module: IsolatePool.run vs Comlink vs workerpool, round trip and throughput', run: jsTaskSuite },
  {
    name: 'parse_mbps', describe: `isolate-side tape parse throughput, ${PARSE_MB} MB`, run: parseMbpsSuite,
    plan: (engine, o) => ({ datasets: parseDatasets(o), mb: PARSE_MB }),
  },
  {
    name: 'url', describe: 'parseJson(url) end to end vs fetch-only vs parse-only', run: urlSuite, prepare: prepareUrlData,
    plan: () => ({ sizes: URL_SIZES, cases: URL_CASES }),
  },
  { name: 'typed', describe: "the seed's compute(parse_products, body): one task vs run_vec vs JSON.parse + map", run: typedSuite, engines: NOT_WEBKIT },
];

/** Whether `suite` runs in `engine`. */
export function suiteRunsIn(suite, engine) {
  return !suite.once && (!suite.engines || suite.engines.includes(engine));
}

/**
 * What a run with `options` (from parseArgs) will measure: the suites run once, and per engine
 * the suites with their cases. Printed before the run; tested in tests/e2e/bench-docs.test.mjs.
 */
export function benchPlan(options) {
  const suites = SUITES.filter((s) => !options.suites || options.suites.includes(s.name));
  return {
    once: suites.filter((s) => s.once).map((s) => s.name),
    engines: Object.fromEntries(options.engines.map((engine) => [engine,
      suites.filter((s) => suiteRunsIn(s, engine)).map((s) => ({ suite: s.name, ...(s.plan?.(engine, options) ?? {}) }))])),
  };
}

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
    case 'js_rtt': return r.calls_per_run ? `JS task, ${r.calls_per_run} calls/run` : 'JS task';
    case 'js_throughput': return `${r.tasks} JS tasks, ${r.isolates} workers`;
    case 'parse_mbps': return `${r.dataset} ${r.mb} MB`;
    case 'url': return `${r.case} ${r.mb} MB`;
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
  if (r.row === 'parse_mbps') return `${r.value} MB/s (${r.min_value}–${r.max_value})`;
  const t = `${num(r.median_ms)} ms (${num(r.min_ms)}–${num(r.max_ms)})`;
  if (r.row === 'throughput' || r.row === 'js_throughput') return `${t} = ${r.value} tasks/s`;
  return r.ok === false ? `${t} CHECK FAILED` : t;
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

const ENGINE_NAMES = { chromium: 'Chromium', firefox: 'Firefox', webkit: 'WebKit' };
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

/**
 * Rows of the kinds in `order` as table lines: one per measure, subject and detail, one cell per
 * engine (empty where the engine has no such row).
 */
function perEngineLines(rows, order) {
  const lines = new Map(); // key → {row, subject, detail, cells: {engine: text}}
  for (const r of rows.filter((x) => order.includes(x.row)).sort((a, b) => order.indexOf(a.row) - order.indexOf(b.row))) {
    // A memory row's note is its reason when it could not be measured: keep engines on one line.
    const detail = r.row === 'memory' ? '' : cmpDetail(r);
    const key = `${r.row}|${r.subject ?? ''}|${detail}`;
    if (!lines.has(key)) lines.set(key, { row: r.row, subject: r.subject ?? '', detail, cells: {} });
    const line = lines.get(key);
    if (r.row === 'memory' && !r.error && r.value !== null && !line.detail) line.detail = r.note ?? '';
    line.cells[r.engine] = r.row === 'memory' && !r.error && r.value === null ? `n/a: ${r.note ?? ''}` : cmpValue(r);
  }
  return [...lines.values()];
}

/** Below a table with an engine column some lines leave empty: why they are empty. */
function notRunNote(lines, engines) {
  const gaps = engines.filter((e) => lines.some((l) => l.cells[e] === undefined));
  return gaps.length
    ? [`—: not measured in that engine (${gaps.map(engineName).join(', ')}: see "How to read the tables" for which rows each engine runs).`, '']
    : [];
}

/** The comparison suites: one line per measure and subject, one column per engine. */
function compareSection(rows, engines) {
  const out = [];
  const peers = perEngineLines(rows, ['rtt', 'cold', 'first_task', 'transfer', 'pool_scaling', 'throughput', 'js_rtt', 'js_throughput', 'memory']);
  if (peers.length) {
    out.push('### Against the raw platform and the peers', '',
      mdTable(['measure', 'subject', 'detail', ...engines.map(engineName)],
        peers.map((l) => [l.row, l.subject, l.detail, ...engines.map((e) => l.cells[e] ?? '')])), '',
      ...notRunNote(peers, engines));
  }
  const json = perEngineLines(rows, ['parse_mbps', 'url']);
  if (json.length) {
    out.push('### JSON in the isolate: parse throughput and a URL source', '',
      mdTable(['measure', 'detail', ...engines.map(engineName)],
        json.map((l) => [l.row, l.detail, ...engines.map((e) => l.cells[e] ?? '')])), '');
    const bytes = new Map();
    for (const r of rows.filter((x) => (x.row === 'parse_mbps' || x.row === 'url') && typeof x.bytes === 'number')) {
      const key = r.row === 'url' ? `points ${r.mb} MB (url)` : `${r.dataset} ${r.mb} MB`;
      if (!bytes.has(key)) bytes.set(key, `${key}: ${grouped(r.bytes)} bytes${typeof r.records === 'number' ? `, ${grouped(r.records)} records` : ''}`);
    }
    if (bytes.size) out.push(`Documents: ${[...bytes.values()].join('; ')}.`, '');
    out.push(...notRunNote(json, engines));
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

/** The README's summary of a run, between its own markers (README.md, "What works where"). */
export const README_FILE = path.join(ROOT, 'README.md');
export const README_BEGIN = '<!-- bench-summary:begin -->';
export const README_END = '<!-- bench-summary:end -->';

/**
 * The README's summary of one run: a few headline figures per engine, each a cell of the run's
 * own rows (docs/benchmarks.md has them all). Pure: the same rows give the same text.
 */
export function renderReadmeSummary(rows) {
  const meta = rows.find((r) => r.row === 'meta') ?? {};
  const engines = Object.keys(meta.browsers ?? {}).filter((e) => e !== 'null');
  const ok = (r) => r && !r.error;
  const json = (engine, strategy) => {
    const mb = Math.max(0, ...rows.filter((r) => r.row === 'json' && r.engine === engine && r.dataset === 'points' && ok(r)).map((r) => r.mb));
    const r = rows.find((x) => x.row === 'json' && x.engine === engine && x.dataset === 'points' && x.mb === mb && x.strategy === strategy);
    return ok(r) ? `${fixed1(r.total_ms)} ms, ${r.missed_frames} missed (${mb} MB)` : '—';
  };
  const ratio = (engine, name) => {
    const r = rows.find((x) => x.row === 'ratio' && x.engine === engine && x.name === name);
    return ok(r) && typeof r.value === 'number' ? `${r.value.toFixed(2)}×` : '—';
  };
  const typed = (engine, route) => {
    const mb = Math.max(0, ...rows.filter((r) => r.row === 'typed' && r.engine === engine && ok(r)).map((r) => r.mb));
    const r = rows.find((x) => x.row === 'typed' && x.engine === engine && x.mb === mb && x.route === route);
    return ok(r) ? `${fixed1(r.max_stall_ms)} ms (${mb} MB)` : '—';
  };
  const lines = [
    ['parse points JSON, `handle` in an isolate: total, missed frames', (e) => json(e, 'handle')],
    ['the same with `JSON.parse` on the page', (e) => json(e, 'main-parse')],
    ['`handle` from a JS string (`await response.text()`)', (e) => json(e, 'handle-string')],
    ['the same as JS objects (`objects`)', (e) => json(e, 'objects')],
    ["the seed's `Vec<Product>`, longest stall of the page: `run_vec`", (e) => typed(e, 'vec')],
    ['… through `compute` (one task)', (e) => typed(e, 'one')],
    ['Rust task round trip, ours / Comlink (ours / raw `postMessage`)', (e) => {
      const ms = (subject) => rows.find((x) => x.row === 'rtt' && x.engine === e && x.subject === subject && ok(x))?.median_ms;
      const [ours, comlink, raw] = [ms('ours'), ms('comlink'), ms('raw')];
      if (typeof ours !== 'number' || typeof comlink !== 'number') return '—';
      return `${(ours / comlink).toFixed(2)}×${typeof raw === 'number' ? ` (${(ours / raw).toFixed(2)}×)` : ''}`;
    }],
    ['JS task round trip, ours / Comlink', (e) => ratio(e, 'js_rtt ours / comlink')],
    ['JS tasks per second, ours / workerpool', (e) => ratio(e, 'js_throughput ours / workerpool (tasks/s)')],
  ];
  const size = rows.find((r) => r.row === 'size' && r.artifact === 'wasm' && ok(r) && /^default/.test(r.features));
  const out = [
    '<!-- Written by scripts/bench.mjs after each full run; edits here are lost at the next run. -->',
    '',
    `**Measured** by the bench run of ${utcMinute(meta.date)} (\`npm run bench${Array.isArray(meta.args) && meta.args.length ? ` -- ${meta.args.join(' ')}` : ''}\`, `
      + `${meta.nproc ?? '?'}-core machine, load average ${meta.loadavg_start?.[0] ?? '?'} at the start; `
      + `${Object.entries(meta.browsers ?? {}).map(([e, v]) => `${engineName(e)} ${v}`).join(', ') || 'no browser'}):`,
    '',
    mdTable(['measure', ...engines.map(engineName)], lines.map(([label, cell]) => [label, ...engines.map(cell)])),
    '',
  ];
  if (size) out.push(`The npm package's wasm: ${grouped(size.value)} bytes, ${grouped(size.gzip_bytes)} gzipped. All tables: [docs/benchmarks.md](docs/benchmarks.md).`);
  else out.push('All tables: [docs/benchmarks.md](docs/benchmarks.md).');
  return out.join('\n');
}

/** `doc` with the text between the README's summary markers replaced by `section`. */
export function replaceReadmeSummary(doc, section) {
  const lines = doc.split('\n');
  const begin = lines.findIndex((l) => l.trim() === README_BEGIN);
  const end = begin < 0 ? -1 : lines.findIndex((l, i) => i > begin && l.trim() === README_END);
  if (begin < 0 || end < 0) throw new Error(`no ${README_BEGIN} … ${README_END} section (each alone on a line)`);
  return [...lines.slice(0, begin + 1), section.trim(), ...lines.slice(end)].join('\n');
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
  const prepared = {}; // suite name → what its prepare() made (ctx.prepared)
  const cleanups = [];
  const plan = benchPlan(options);
  log(`plan: once ${plan.once.join(', ') || '—'}; ${Object.entries(plan.engines)
    .map(([e, list]) => `${e}: ${list.map((x) => x.suite).join(', ') || '—'}`).join('; ')}`);
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
    for (const suite of suites.filter((s) => s.prepare)) {
      try {
        const { data, cleanup } = suite.prepare({ options, log });
        prepared[suite.name] = data;
        cleanups.push(cleanup);
      } catch (err) {
        const msg = `suite ${suite.name}: preparing failed: ${errorText(err)}`;
        log(msg);
        meta.problems.push(msg);
      }
    }
    meta.loadavg_browsers_start = os.loadavg().map((x) => Math.round(x * 100) / 100);
    for (const engine of options.engines) {
      const webkit = engine === 'webkit';
      const profile = webkit ? null : mkdtempSync(path.join(os.tmpdir(), `wasm-isolates-bench-${engine}-`));
      let browser;
      try {
        browser = webkit ? await launchWebKitBrowser() : await puppeteer.launch(launchOptions(engine, profile));
      } catch (err) {
        // A browser that does not start makes the run partial (docsDecision), not a crash.
        const msg = `could not launch ${engine}: ${String(err?.message ?? err).split('\n')[0]}`;
        log(msg);
        meta.problems.push(msg);
        if (profile) rmSync(profile, { recursive: true, force: true });
        if (engine === 'chromium') failed = true;
        continue;
      }
      try {
        meta.browsers[engine] = await browser.version();
        log(`${engine}: ${meta.browsers[engine]}`);
        const problems = [];
        const ctx = {
          engine, browser, url: server.url, options, log, prepared,
          openDemo: () => (webkit
            ? openWebKitPage(browser, server.url, '__demo', problems, 'index.html')
            : openDemo(browser, server.url, problems)),
          openBench: () => (webkit
            ? openWebKitPage(browser, new URL('bench.html', benchServer.url).href, '__bench', problems, 'bench.html')
            : openBenchPage(browser, benchServer.url, problems)),
        };
        for (const suite of suites.filter((s) => !s.once && suiteRunsIn(s, engine))) {
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
        // A WebKit page is a session of its own: close it so that its problems are read.
        if (ctx.benchPage) await (await ctx.benchPage.catch(() => null))?.close();
        meta.problems.push(...problems.map((p) => `${engine}: ${p}`));
      } finally {
        await browser.close().catch(() => {});
        if (profile) rmSync(profile, { recursive: true, force: true });
      }
    }
  } finally {
    await server.close();
    await benchServer?.close();
    for (const cleanup of cleanups) {
      try {
        cleanup();
      } catch (err) {
        meta.problems.push(`cleaning up: ${errorText(err)}`);
      }
    }
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
      writeFileSync(README_FILE, replaceReadmeSummary(readFileSync(README_FILE, 'utf8'), renderReadmeSummary(rows)));
      console.log('docs: README.md summary rewritten between its markers');
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
