#!/usr/bin/env node
// `npm run bench`: measure the demo page's strategies in headless browsers and write a report.
//
//   npm run bench                       # setup + build, then every suite: Chromium and Firefox,
//                                       #   points and products, 1 / 10 / 50 / 100 MB, 3 runs each
//   npm run bench -- --quick            # points, 10 and 50 MB (under 4 minutes with the build)
//   npm run bench -- --no-build --engines=chromium --sizes=10 --strategies=handle,columns --runs=5
//   npm run bench -- --quick --screenshot=www/screenshot.png   # also: the page after a 50 MB run
//
// Options: --quick, --runs=N (≥ 1; default 3), --engines=chromium,firefox, --datasets=points,products,
// --sizes=1,10,50,100, --strategies=main-parse,worker-clone,handle,columns,objects, --suites=json,
// --animate (keep the page's animation drawing during runs; see below), --no-build (skip setup and
// build: use the www/pkg that is there), --out=target/bench/report.json, --screenshot=PATH.
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
//    "total_ms", "main_blocked_ms", "max_gap_ms", "missed_frames", "frames_lost", "long_tasks",
//    "runs", "ok", "key_order", "bytes", "records"}
// (long_tasks is null in Firefox, which has no Long Tasks API; ok: the warm-up run's result equals
// JSON.parse's). A failed cell is a row with "error" instead of numbers. More row kinds: add a
// suite to SUITES below; its rows go into the same report (e.g. {"row": "rtt", ...}).
// This file imports only node built-ins at top level: node_modules may not exist before setup.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

function parseArgs(argv) {
  const o = {
    quick: false, runs: 3, build: true, animate: false, suites: null,
    out: path.join(ROOT, 'target', 'bench', 'report.json'), screenshot: null,
    engines: null, datasets: null, sizes: null, strategies: null,
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
      case '--no-build': o.build = false; break;
      case '--animate': o.animate = true; break;
      case '--out': o.out = path.resolve(value()); break;
      case '--screenshot': o.screenshot = path.resolve(value()); break;
      case '--engines': o.engines = list(value(), ALL.engines, 'engines'); break;
      case '--datasets': o.datasets = list(value(), ALL.datasets, 'datasets'); break;
      case '--sizes': o.sizes = list(value(), null, 'sizes').map(Number); break;
      case '--strategies': o.strategies = list(value(), ALL.strategies, 'strategies'); break;
      case '--suites': o.suites = list(value(), SUITES.map((s) => s.name), 'suites'); break;
      case '-h': case '--help':
        console.log(fileHelp());
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${argv[i]} (see --help)`);
    }
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs must be a positive integer');
  if (o.sizes?.some((mb) => !(mb > 0 && mb <= 512))) throw new Error('--sizes must be in (0, 512] MB');
  o.engines ??= ALL.engines;
  o.datasets ??= o.quick ? ['points'] : ALL.datasets;
  o.sizes ??= o.quick ? [10, 50] : ALL.sizes;
  o.strategies ??= ALL.strategies;
  return o;
}

function fileHelp() {
  return 'usage: node scripts/bench.mjs [--quick] [--runs=N] [--engines=chromium,firefox] [--datasets=points,products]\n'
    + '         [--sizes=1,10,50,100] [--strategies=...] [--suites=json] [--animate] [--no-build] [--out=FILE] [--screenshot=PNG]';
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
            const row = {
              ...base,
              total_ms: med('totalMs'),
              main_blocked_ms: med('mainBlockedMs'),
              max_gap_ms: med('maxGapMs'),
              missed_frames: median(runs.map((r) => r.missedFrames)),
              frames_lost: median(runs.map((r) => r.framesLost)),
              long_tasks: runs[0].longTasks === null ? null : median(runs.map((r) => r.longTasks)),
              runs: runs.length,
              ok: first.ok,
              key_order: first.verify?.keyOrder ?? null,
              bytes: first.byteLength,
              records: first.verify?.expectedCount ?? first.checksum?.count ?? null,
            };
            if (!first.ok) row.problems = first.verify?.problems ?? [];
            rows.push(row);
            log(`  ${strategy.padEnd(12)} total ${fmtMs(row.total_ms)}  blocked ${fmtMs(row.main_blocked_ms)}  max gap ${fmtMs(row.max_gap_ms)}  missed ${row.missed_frames}${row.ok ? '' : '  CHECK FAILED'}`);
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

const SUITES = [
  { name: 'json', describe: 'big JSON: five strategies × datasets × sizes', run: jsonSuite },
  // { name: 'rtt', describe: 'round trips', run: rttSuite },   // rows {"row": "rtt", ...}
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
    ['max gap ms', (r) => (r.error ? '' : r.max_gap_ms.toFixed(1))],
    ['missed frames', (r) => (r.error ? '' : String(r.missed_frames))],
    ['long tasks', (r) => (r.error ? '' : r.long_tasks === null ? 'n/a' : String(r.long_tasks))],
    ['runs', (r) => (r.error ? '' : String(r.runs))],
    ['= JSON.parse', (r) => (r.error ? r.error.slice(0, 60) : r.ok ? 'yes' : 'NO')],
  ];
  const cells = json.map((r) => cols.map(([, f]) => f(r)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const left = new Set([0, 1, 3, 10]);
  const line = (c) => c.map((v, i) => (left.has(i) ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(cols.map(([h]) => h)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
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
    code = await step(process.execPath, [path.join('scripts', 'build.mjs')]);
    if (code !== 0) throw new Error(`build failed (exit ${code})`);
  }
  const { default: puppeteer } = await import('puppeteer-core');
  const { serve } = await import('./serve.mjs');
  const server = await serve({ root: path.join(ROOT, 'www'), port: 0, coi: true, csp: CSP });
  const suites = SUITES.filter((s) => !options.suites || options.suites.includes(s.name));
  const log = (text) => console.log(`[bench] ${text}`);

  const meta = {
    row: 'meta',
    date: new Date().toISOString(),
    quick: options.quick,
    runs: options.runs,
    animate: options.animate,
    suites: suites.map((s) => s.name),
    datasets: options.datasets,
    sizes: options.sizes,
    strategies: options.strategies,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? null,
    node: process.version,
    loadavg_start: os.loadavg().map((x) => Math.round(x * 100) / 100), // others' work on the same cores skews every figure
    browsers: {},
    problems: [],
  };
  const rows = [meta];
  let failed = false;
  try {
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
        };
        for (const suite of suites) {
          log(`suite ${suite.name} (${suite.describe}) in ${engine}`);
          try {
            rows.push(...await suite.run(ctx));
          } catch (err) {
            const msg = `${engine}: suite ${suite.name} failed: ${String(err?.message ?? err).split('\n')[0]}`;
            log(msg);
            meta.problems.push(msg);
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
  }
  meta.seconds = Math.round((Date.now() - started) / 1000);
  meta.loadavg_end = os.loadavg().map((x) => Math.round(x * 100) / 100);
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(rows, null, 2)}\n`);
  console.log(`\n${table(rows)}\n`);
  console.log('total: end to end; main blocked: time the page could run nothing else (a probe asks for a turn every ms);');
  console.log('max gap: longest requestAnimationFrame gap; missed frames: rAF gaps over 25 ms; medians of each figure.');
  if (meta.problems.length) console.log(`\nproblems:\n  ${meta.problems.join('\n  ')}`);
  console.log(`\nreport: ${path.relative(process.cwd(), options.out) || options.out} (${rows.length - 1} rows) in ${meta.seconds} s; `
    + `load average ${meta.loadavg_start[0]} at the start, ${meta.loadavg_end[0]} at the end (${meta.cpus} CPUs)`);
  const bad = rows.some((r) => r.row === 'json' && (r.error || r.ok === false));
  if (failed || bad) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`bench: ${err?.stack ?? err}`);
    process.exit(1);
  });
}
