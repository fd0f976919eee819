// scripts/bench.mjs writes its tables into docs/benchmarks.md: the renderer, the marker
// replacement and the rule for partial runs, on sample rows (no browser, no build).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  benchPlan, DOCS_BEGIN, DOCS_END, DOCS_FILE, docsDecision, parseArgs, renderBenchDocs, replaceBenchSection, runLine,
  URL_SIZES, writePointsDataset, xorshift64star,
} from '../../scripts/bench.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const meta = {
  row: 'meta',
  date: '2026-11-28T09:05:42.123Z',
  args: ['--quick', '--no-build'],
  quick: true,
  runs: 3,
  animate: false,
  suites: ['size', 'json', 'rtt', 'memory'],
  datasets: ['points'],
  sizes: [10, 50],
  strategies: ['main-parse', 'handle'],
  cpus: 2,
  nproc: 2,
  cmp_runs: 5,
  rtt_calls: 200,
  cpu: 'AMD EPYC 7B13',
  node: 'v20.20.2',
  loadavg_start: [0.4, 0.3, 0.2],
  loadavg_end: [1.3, 0.9, 0.5],
  browsers: { chromium: 'HeadlessChrome/156.0.7600.0', firefox: 'firefox/153.0esr' },
  problems: ['firefox: bench.html console.error: a | b'],
  seconds: 812,
};

const jsonRow = (engine, strategy, extra) => ({
  row: 'json', engine, dataset: 'points', mb: 50, strategy, total_ms: 215.04, main_blocked_ms: 7.3,
  main_busy_ms: engine === 'chromium' ? 0 : null, longest_task_ms: null, max_gap_ms: 16.7, missed_frames: 0,
  frames_lost: 0, long_tasks: 0, runs: 3, ok: true, key_order: true, bytes: 52428800, records: 459522, ...extra,
});

const rows = [
  meta,
  { row: 'size', engine: null, subject: 'ours', artifact: 'wasm', features: 'default (json)', value: 668718, unit: 'bytes', gzip_bytes: 215152 },
  { row: 'probe_control', engine: 'chromium', busy_ms: 300, main_blocked_ms: 11.7, main_blocked_max_ms: 18.2, main_busy_ms: 0, missed_frames: 0, runs: 3 },
  jsonRow('chromium', 'main-parse', { total_ms: 503, main_blocked_ms: 505, main_busy_ms: 410.6, max_gap_ms: 483, missed_frames: 1 }),
  jsonRow('chromium', 'handle'),
  { row: 'json', engine: 'firefox', dataset: 'points', mb: 50, strategy: 'handle', error: 'Timed out | after 60 s' },
  { row: 'rtt', engine: 'chromium', subject: 'ours', median_ms: 0.188, min_ms: 0.175, max_ms: 0.245, runs: 5, calls_per_run: 200 },
  { row: 'rtt', engine: 'firefox', subject: 'ours', median_ms: 0.265, min_ms: 0.234, max_ms: 0.572, runs: 5, calls_per_run: 200 },
  { row: 'ratio', engine: 'chromium', name: 'rtt ours / raw', value: 1.94, unit: 'x', goal: '≤ 2' },
  { row: 'ratio', engine: 'firefox', name: 'rtt ours / raw', value: 2.43, unit: 'x', goal: '≤ 2' },
  { row: 'memory', engine: 'chromium', subject: 'ours', value: 618660, min: 600000, max: 650000, unit: 'bytes', runs: 5, note: 'one idle isolate' },
  { row: 'memory', engine: 'firefox', subject: 'ours', value: null, unit: 'bytes', note: 'not measurable: no API' },
];

test('the run line names time (UTC), command, engines with versions, options and machine', () => {
  const line = runLine(meta);
  assert.match(line, /^\*\*Run:\*\* 2026-11-28 09:05 UTC · /);
  assert.ok(line.includes('`npm run bench -- --quick --no-build`'), line);
  assert.ok(line.includes('Chromium (HeadlessChrome/156.0.7600.0)'), line);
  assert.ok(line.includes('Firefox (firefox/153.0esr)'), line);
  assert.ok(line.includes('sizes 10, 50 MB'), line);
  assert.ok(line.includes('nproc 2 (AMD EPYC 7B13)'), line);
  assert.ok(line.includes('load average 0.4 → 1.3'), line);
  assert.ok(!line.includes('\n'), 'one line');
});

test('the section holds the run line and every kind of row, as markdown tables', () => {
  const md = renderBenchDocs(rows);
  assert.ok(md.includes(runLine(meta)));
  assert.ok(!md.includes(DOCS_BEGIN) && !md.includes(DOCS_END), 'the markers stay outside the section');
  assert.ok(md.includes('| Chromium | points | 50 | handle | 215.0 | 7.3 | 0.0 | 16.7 | 0 | yes |'), md);
  assert.ok(md.includes('| Chromium | points | 50 | main-parse | 503.0 | 505.0 | 410.6 | 483.0 | 1 | yes |'), md);
  assert.ok(md.includes('points 50 MB: 52,428,800 bytes, 459,522 records'), md);
  assert.ok(md.includes('| Chromium | 300 | 11.7 (18.2) | 0.0 | 0 |'), md);
  // A failed cell shows its error, with the pipe escaped so the table keeps its columns.
  assert.ok(md.includes('error: Timed out \\| after 60 s'), md);
  // Comparison rows: one line per measure, one column per engine.
  assert.ok(md.includes('| rtt | ours | 200 calls/run | 0.188 ms (0.175–0.245) | 0.265 ms (0.234–0.572) |'), md);
  assert.ok(md.includes('| rtt ours / raw | 1.94× | 2.43× | ≤ 2 |'), md);
  assert.ok(md.includes('| memory | ours | one idle isolate | 0.59 MiB (0.57 MiB–0.62 MiB) | n/a: not measurable: no API |'), md);
  assert.ok(md.includes('| wasm | default (json) | 668,718 | 215,152 |'), md);
  assert.ok(md.includes('- firefox: bench.html console.error: a \\| b'), md);
  for (const line of md.split('\n').filter((l) => l.startsWith('|'))) {
    assert.ok(line.endsWith('|'), `a table line ends its row: ${line}`);
  }
});

test('replacing the section keeps the prose around the markers', () => {
  const doc = `# Benchmarks\n\nprose before\n\n${DOCS_BEGIN}\nold tables\n${DOCS_END}\n\nprose after\n`;
  const next = replaceBenchSection(doc, renderBenchDocs(rows));
  assert.ok(next.startsWith('# Benchmarks\n\nprose before\n\n'));
  assert.ok(next.endsWith(`${DOCS_END}\n\nprose after\n`));
  assert.ok(!next.includes('old tables'));
  assert.ok(next.includes(runLine(meta)));
  assert.equal(replaceBenchSection(next, renderBenchDocs(rows)), next, 'a second write of the same run changes nothing');
  assert.throws(() => replaceBenchSection('# no markers\n', 'x'), /bench:begin/);
  // Regression: the markers named inline in prose (as docs/benchmarks.md does) are not the
  // section; the first real run wrote its tables into the prose between them.
  const prose = `Tables go between \`${DOCS_BEGIN}\` and \`${DOCS_END}\`.\n\n${DOCS_BEGIN}\nold\n${DOCS_END}\n`;
  const written = replaceBenchSection(prose, 'NEW');
  assert.equal(written, `Tables go between \`${DOCS_BEGIN}\` and \`${DOCS_END}\`.\n\n${DOCS_BEGIN}\nNEW\n${DOCS_END}\n`);
});

test('docs/benchmarks.md carries the markers the bench writes between', () => {
  const doc = readFileSync(DOCS_FILE, 'utf8');
  assert.equal(path.relative(ROOT, DOCS_FILE), path.join('docs', 'benchmarks.md'));
  assert.ok(doc.indexOf(DOCS_BEGIN) >= 0 && doc.indexOf(DOCS_END) > doc.indexOf(DOCS_BEGIN));
  assert.doesNotThrow(() => replaceBenchSection(doc, renderBenchDocs(rows)));
});

test('a partial run leaves the docs alone unless --docs; --no-docs always does', () => {
  const full = { docs: null, narrowedBy: [], engines: ['chromium', 'firefox'] };
  const three = { ...full, engines: ['chromium', 'firefox', 'webkit'] };
  assert.equal(docsDecision(three, meta).write, false, 'WebKit asked for but not launched: partial');
  assert.match(docsDecision(three, meta).reason, /webkit did not launch/);
  assert.equal(docsDecision(three, { ...meta, browsers: { ...meta.browsers, webkit: 'MiniBrowser/2.50.6' } }).write, true);
  assert.equal(docsDecision(full, meta).write, true);
  assert.equal(docsDecision({ ...full, docs: false }, meta).write, false);
  const narrowed = { ...full, narrowedBy: ['engines'], engines: ['chromium'] };
  assert.equal(docsDecision(narrowed, meta).write, false);
  assert.match(docsDecision(narrowed, meta).reason, /--engines/);
  assert.equal(docsDecision({ ...narrowed, docs: true }, meta).write, true);
  const noFirefox = { ...meta, browsers: { chromium: meta.browsers.chromium } };
  assert.equal(docsDecision(full, noFirefox).write, false, 'a browser that did not launch makes the run partial');
  assert.match(docsDecision(full, noFirefox).reason, /firefox did not launch/);
});

test('options: what counts as narrowing a run, and --docs / --no-docs', () => {
  assert.deepEqual(parseArgs([]).narrowedBy, []);
  assert.deepEqual(parseArgs(['--quick']).narrowedBy, []);
  assert.deepEqual(parseArgs(['--quick', '--sizes=50,10']).narrowedBy, [], 'the quick set given explicitly is not narrower');
  assert.deepEqual(parseArgs(['--engines=chromium,firefox,webkit', '--runs=5', '--no-build']).narrowedBy, []);
  assert.deepEqual(parseArgs(['--engines=chromium,firefox']).narrowedBy, ['engines'], 'WebKit is in the default set');
  assert.deepEqual(parseArgs(['--quick']).engines, ['chromium', 'firefox', 'webkit']);
  assert.throws(() => parseArgs(['--engines=safari']), /unknown engines "safari"/);
  assert.deepEqual(parseArgs(['--suites=json', '--engines=chromium', '--sizes=100']).narrowedBy, ['suites', 'engines', 'sizes']);
  assert.deepEqual(parseArgs(['--strategies=handle', '--datasets=products']).narrowedBy, ['datasets', 'strategies']);
  assert.equal(parseArgs([]).docs, null);
  assert.equal(parseArgs(['--docs']).docs, true);
  assert.equal(parseArgs(['--no-docs']).docs, false);
  assert.throws(() => parseArgs(['--docs', '--no-docs']), /contradict/);
});

// ---- WebKit and the rows of issues 15, 16 and 18 -------------------------------------------

/** Every line of every markdown table in `md` has as many cells as its header. */
function assertTablesKeepTheirColumns(md) {
  let width = null;
  for (const line of md.split('\n')) {
    if (!line.startsWith('|')) {
      width = null;
      continue;
    }
    const cells = line.replace(/\\\|/g, '').split('|').length;
    if (width === null) width = cells;
    else assert.equal(cells, width, `a table line keeps its table's columns: ${line}`);
  }
}

const webkitMeta = { ...meta, browsers: { ...meta.browsers, webkit: 'MiniBrowser/2.50.6' }, problems: [] };
const newRows = [
  webkitMeta,
  jsonRow('chromium', 'handle'),
  jsonRow('webkit', 'handle', { total_ms: 301.26, main_blocked_ms: 9.04, main_busy_ms: null, long_tasks: null, max_gap_ms: 17.1 }),
  { row: 'probe_control', engine: 'webkit', busy_ms: 300, main_blocked_ms: 4.2, main_blocked_max_ms: 6.1, main_busy_ms: null, missed_frames: 0, runs: 3 },
  { row: 'rtt', engine: 'chromium', subject: 'ours', median_ms: 0.188, min_ms: 0.175, max_ms: 0.245, runs: 5, calls_per_run: 200 },
  { row: 'rtt', engine: 'webkit', subject: 'ours', median_ms: 0.09, min_ms: 0.073, max_ms: 0.104, runs: 5, calls_per_run: 200 },
  { row: 'cold', engine: 'webkit', subject: 'ours', median_ms: 22.7, min_ms: 19.16, max_ms: 28.32, runs: 5 },
  { row: 'transfer', engine: 'chromium', subject: 'raw', mode: 'transfer', direction: 'send', mb: 50, median_ms: 0.25, min_ms: 0.15, max_ms: 0.365, runs: 5 },
  { row: 'js_rtt', engine: 'chromium', subject: 'ours', median_ms: 0.12, min_ms: 0.1, max_ms: 0.2, runs: 5, calls_per_run: 200 },
  { row: 'js_rtt', engine: 'webkit', subject: 'ours', median_ms: 0.442, min_ms: 0.208, max_ms: 0.643, runs: 5, calls_per_run: 200 },
  { row: 'js_rtt', engine: 'webkit', subject: 'comlink', median_ms: 0.063, min_ms: 0.048, max_ms: 0.102, runs: 5, calls_per_run: 200 },
  { row: 'js_throughput', engine: 'webkit', subject: 'ours', tasks: 10000, isolates: 4, median_ms: 1849, min_ms: 1531.8, max_ms: 2030.8, runs: 5, value: 5408, unit: 'tasks/s' },
  { row: 'js_throughput', engine: 'webkit', subject: 'workerpool', tasks: 10000, isolates: 4, error: 'workerpool did not load' },
  { row: 'parse_mbps', engine: 'chromium', subject: 'ours', dataset: 'points', mb: 20, bytes: 20971525, median_ms: 40, min_ms: 38, max_ms: 45, runs: 5, value: 524, min_value: 466, max_value: 552, unit: 'MB/s' },
  { row: 'parse_mbps', engine: 'webkit', subject: 'ours', dataset: 'points', mb: 20, bytes: 20971525, median_ms: 97.38, min_ms: 60.58, max_ms: 211.4, runs: 5, value: 215, min_value: 99, max_value: 346, unit: 'MB/s' },
  { row: 'parse_mbps', engine: 'webkit', subject: 'ours', dataset: 'products', mb: 20, error: 'the generated dataset did not parse' },
  { row: 'url', engine: 'webkit', subject: 'ours', case: 'url', mb: 50, bytes: 52428882, records: 459522, median_ms: 2047.4, min_ms: 1540, max_ms: 3434, runs: 5, ok: true },
  { row: 'url', engine: 'webkit', subject: 'ours', case: 'fetch-only', mb: 50, bytes: 52428882, records: 459522, median_ms: 896.2, min_ms: 854.4, max_ms: 1831.7, runs: 5, ok: true },
  { row: 'url', engine: 'webkit', subject: 'ours', case: 'parse-only', mb: 50, bytes: 52428882, records: 459522, median_ms: 320.4, min_ms: 277.2, max_ms: 532.4, runs: 5, ok: false },
  { row: 'ratio', engine: 'webkit', name: 'js_rtt ours / comlink', value: 7.02, unit: 'x', goal: '≤ 1' },
  { row: 'ratio', engine: 'chromium', name: 'url 50 MB / max(fetch-only, parse-only)', value: null, unit: 'x', goal: '≤ 1.15' },
  { row: 'ratio', engine: 'webkit', name: 'url 50 MB / max(fetch-only, parse-only)', value: 2.28, unit: 'x', goal: '≤ 1.15' },
];

test('WebKit gets its own column and rows, with n/a where only CDP could measure', () => {
  const md = renderBenchDocs(newRows);
  assert.ok(md.includes('WebKit (MiniBrowser/2.50.6)'), 'the run line names WebKit and its version');
  assert.ok(md.includes('| WebKit | points | 50 | handle | 301.3 | 9.0 | n/a | 17.1 | 0 | yes |'), md);
  assert.ok(md.includes('| WebKit | 300 | 4.2 (6.1) | n/a | 0 |'), md);
  assert.ok(md.includes('| measure | subject | detail | Chromium | Firefox | WebKit |'), md);
  // A Firefox cell with no row stays empty (—), WebKit's has its figure.
  assert.ok(md.includes('| rtt | ours | 200 calls/run | 0.188 ms (0.175–0.245) | — | 0.090 ms (0.073–0.104) |'), md);
  assert.ok(md.includes('| cold | ours | — | — | — | 22.700 ms (19.160–28.320) |'), md);
  // transfer does not run in WebKit: its cell is empty, and a note says what — means.
  assert.ok(md.includes('| transfer | raw | transfer send 50 MB | 0.250 ms (0.150–0.365) | — | — |'), md);
  assert.match(md, /—: not measured in that engine \(.*WebKit.*\)/);
  assertTablesKeepTheirColumns(md);
});

test('the JS task rows: ours against Comlink and workerpool, with the goals beside the ratios', () => {
  const md = renderBenchDocs(newRows);
  assert.ok(md.includes('| js_rtt | ours | JS task, 200 calls/run | 0.120 ms (0.100–0.200) | — | 0.442 ms (0.208–0.643) |'), md);
  assert.ok(md.includes('| js_rtt | comlink | JS task, 200 calls/run | — | — | 0.063 ms (0.048–0.102) |'), md);
  assert.ok(md.includes('| js_throughput | ours | 10000 JS tasks, 4 workers | — | — | 1849.0 ms (1531.8–2030.8) = 5408 tasks/s |'), md);
  assert.ok(md.includes('| js_throughput | workerpool | 10000 JS tasks, 4 workers | — | — | error: workerpool did not load |'), md);
  assert.ok(md.includes('| js_rtt ours / comlink | — | — | 7.02× | ≤ 1 |'), md);
});

test('the parse_mbps and url rows: their own table, documents, failed checks and goals', () => {
  const md = renderBenchDocs(newRows);
  assert.ok(md.includes('### JSON in the isolate: parse throughput and a URL source'), md);
  assert.ok(md.includes('| measure | detail | Chromium | Firefox | WebKit |'), md);
  assert.ok(md.includes('| parse_mbps | points 20 MB | 524 MB/s (466–552) | — | 215 MB/s (99–346) |'), md);
  assert.ok(md.includes('| parse_mbps | products 20 MB | — | — | error: the generated dataset did not parse |'), md);
  assert.ok(md.includes('| url | url 50 MB | — | — | 2047.4 ms (1540.0–3434.0) |'), md);
  assert.ok(md.includes('| url | fetch-only 50 MB | — | — | 896.2 ms (854.4–1831.7) |'), md);
  // A run that did not see the whole document says so in its cell.
  assert.ok(md.includes('| url | parse-only 50 MB | — | — | 320.4 ms (277.2–532.4) CHECK FAILED |'), md);
  assert.ok(md.includes('points 20 MB: 20,971,525 bytes'), md);
  assert.ok(md.includes('points 50 MB (url): 52,428,882 bytes, 459,522 records'), md);
  assert.ok(md.includes('| url 50 MB / max(fetch-only, parse-only) | — | — | 2.28× | ≤ 1.15 |'), md);
  assertTablesKeepTheirColumns(md);
});

test('the plan of a full --quick run has every new row, WebKit included; a narrowed one leaves WebKit out', () => {
  const plan = benchPlan(parseArgs(['--quick']));
  assert.deepEqual(Object.keys(plan.engines), ['chromium', 'firefox', 'webkit']);
  assert.deepEqual(plan.once, ['size']);
  const suites = (engine) => plan.engines[engine].map((s) => s.suite);
  for (const engine of ['chromium', 'firefox', 'webkit']) {
    for (const name of ['json', 'rtt', 'cold', 'js_task', 'parse_mbps', 'url']) {
      assert.ok(suites(engine).includes(name), `${engine} runs ${name}: ${suites(engine)}`);
    }
    const parse = plan.engines[engine].find((s) => s.suite === 'parse_mbps');
    assert.deepEqual(parse.datasets, ['points', 'products'], 'parse_mbps covers both datasets even in --quick');
    assert.deepEqual(plan.engines[engine].find((s) => s.suite === 'url').sizes, [50, 100]);
  }
  assert.deepEqual(plan.engines.webkit.find((s) => s.suite === 'json').sizes, [10, 50]);
  for (const name of ['transfer', 'pool_scaling', 'throughput', 'memory', 'typed']) {
    assert.ok(suites('chromium').includes(name) && suites('firefox').includes(name), name);
    assert.ok(!suites('webkit').includes(name), `${name} is not run in WebKit`);
  }
  // The full run: WebKit's JSON rows stay at 10 and 50 MB, the other engines get every size.
  const full = benchPlan(parseArgs([]));
  assert.deepEqual(full.engines.webkit.find((s) => s.suite === 'json').sizes, [10, 50]);
  assert.deepEqual(full.engines.chromium.find((s) => s.suite === 'json').sizes, [1, 10, 50, 100]);
  assert.deepEqual(full.engines.webkit.find((s) => s.suite === 'json').datasets, ['points', 'products']);
  // --sizes=1 leaves WebKit without JSON rows (the suite logs why and returns none).
  assert.deepEqual(benchPlan(parseArgs(['--sizes=1', '--engines=webkit', '--suites=json'])).engines.webkit[0].sizes, []);
  assert.deepEqual(benchPlan(parseArgs(['--datasets=products', '--suites=parse_mbps'])).engines.chromium[0].datasets, ['products']);
  assert.deepEqual(URL_SIZES, [50, 100]);
});

test('the url documents are the demo\'s points: xorshift64* as dataset.rs, and the same text', () => {
  // xorshift64* from seed 42, on BigInt: the reference the 32-bit-halves version must equal.
  const MASK = (1n << 64n) - 1n;
  let s = 42n;
  const next = xorshift64star(42);
  for (let i = 0; i < 10_000; i++) {
    s ^= s >> 12n;
    s ^= (s << 25n) & MASK;
    s ^= s >> 27n;
    const want = (s * 0x2545F4914F6CDD1Dn) & MASK;
    const got = next();
    assert.equal((BigInt(got.hi) << 32n) | BigInt(got.lo), want, `output ${i}`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'wasm-isolates-bench-points-'));
  try {
    const file = path.join(dir, 'p.json');
    const { bytes, records } = writePointsDataset(file, 0.01, 42);
    const text = readFileSync(file, 'utf8');
    assert.equal(text.length, bytes);
    assert.ok(bytes >= 0.01 * 1024 * 1024, 'at least the size asked for');
    const parsed = JSON.parse(text);
    assert.equal(parsed.length, records);
    // The first record of src/json/dataset.rs's points with seed 42, as the demo generates it
    // (generateDataset('points', 1, 42) in a browser; at 1, 10 and 50 MB the whole text was
    // compared byte for byte when this generator was written).
    assert.equal(text.slice(0, text.indexOf('}') + 1),
      '[{"id":0,"courier":"c-100","lat":51.129023,"lon":6.740822,"speed":84.96,"ts":1700000000000,"status":"delivering"}');
    assert.deepEqual(Object.keys(parsed[1]), ['id', 'courier', 'lat', 'lon', 'speed', 'ts', 'status']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the README summary: headline cells from the run, between its own markers', async () => {
  const { renderReadmeSummary, replaceReadmeSummary, README_BEGIN, README_END } = await import('../../scripts/bench.mjs');
  const rows = [
    { row: 'meta', date: '2026-11-27T20:40:00Z', args: ['--quick'], nproc: 2, loadavg_start: [0.5], browsers: { chromium: 'Chrome/156', webkit: 'MiniBrowser/2.50' } },
    { row: 'json', engine: 'chromium', dataset: 'points', mb: 50, strategy: 'handle', total_ms: 210.4, missed_frames: 0 },
    { row: 'json', engine: 'chromium', dataset: 'points', mb: 10, strategy: 'handle', total_ms: 50, missed_frames: 0 },
    { row: 'json', engine: 'webkit', dataset: 'points', mb: 50, strategy: 'handle', error: 'boom' },
    { row: 'ratio', engine: 'chromium', name: 'js_rtt ours / comlink', value: 0.8, unit: 'x' },
    { row: 'rtt', engine: 'chromium', subject: 'ours', median_ms: 0.1 },
    { row: 'rtt', engine: 'chromium', subject: 'comlink', median_ms: 0.08 },
    { row: 'rtt', engine: 'chromium', subject: 'raw', median_ms: 0.05 },
    { row: 'size', artifact: 'wasm', features: 'default (json + js)', value: 955756, gzip_bytes: 292031 },
  ];
  const md = renderReadmeSummary(rows);
  assert.match(md, /2026-11-27 20:40 UTC/);
  assert.match(md, /\| Chromium \| WebKit \|/);
  // The largest size of the engine's rows, not the first; an error is a dash, not a number.
  assert.match(md, /210\.4 ms, 0 missed \(50 MB\) \| — \|/);
  assert.match(md, /JS task round trip, ours \/ Comlink \| 0\.80× \| — \|/);
  assert.match(md, /Rust task round trip, ours \/ Comlink \(ours \/ raw `postMessage`\) \| 1\.25× \(2\.00×\) \| — \|/);
  assert.match(md, /955,756 bytes, 292,031 gzipped/);
  const doc = `# x\n\nprose naming ${README_BEGIN} inline\n${README_BEGIN}\nold\n${README_END}\nafter\n`;
  const out = replaceReadmeSummary(doc, md);
  assert.ok(out.includes('prose naming') && out.endsWith(`${README_END}\nafter\n`) && !out.includes('\nold\n'), out);
  assert.throws(() => replaceReadmeSummary('no markers', md), /bench-summary:begin/);
});
