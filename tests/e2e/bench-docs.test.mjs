// scripts/bench.mjs writes its tables into docs/benchmarks.md: the renderer, the marker
// replacement and the rule for partial runs, on sample rows (no browser, no build).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DOCS_BEGIN, DOCS_END, DOCS_FILE, docsDecision, parseArgs, renderBenchDocs, replaceBenchSection, runLine,
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
  assert.deepEqual(parseArgs(['--engines=chromium,firefox', '--runs=5', '--no-build']).narrowedBy, []);
  assert.deepEqual(parseArgs(['--suites=json', '--engines=chromium', '--sizes=100']).narrowedBy, ['suites', 'engines', 'sizes']);
  assert.deepEqual(parseArgs(['--strategies=handle', '--datasets=products']).narrowedBy, ['datasets', 'strategies']);
  assert.equal(parseArgs([]).docs, null);
  assert.equal(parseArgs(['--docs']).docs, true);
  assert.equal(parseArgs(['--no-docs']).docs, false);
  assert.throws(() => parseArgs(['--docs', '--no-docs']), /contradict/);
});
