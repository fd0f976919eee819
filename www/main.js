// wasm-isolates demo page: big JSON five ways, with the main thread's cost made visible.
// No inline scripts, no eval: works under `script-src 'self' 'wasm-unsafe-eval'`.
//
// Test and bench hook: window.__demo = {
//   ready: Promise<void>,                       // resolves once the wasm module is initialised
//   capabilities(): object,                     // what wasm-isolates detected (+ longTasks: bool)
//   strategies: string[],                       // 'main-parse', 'worker-clone', 'handle', 'columns', 'objects'
//   generate(kind, mb, seed?) -> Promise<{kind, mb, seed, byteLength, generateMs, records}>
//   runJson(strategy, {kind, mb, seed?, verify?, input?, budgetMs?, trace?, stalls?})
//     -> Promise<{strategy, kind, mb, byteLength, input, totalMs, mainBlockedMs, maxBlockMs,
//                 maxGapMs, missedFrames, framesLost, frames, longTasks, longTaskMs, longTaskList,
//                 ok, checksum: {count, sums}, verify, stalls?}>
//        missedFrames: rAF gaps > 25 ms; framesLost: frames that fit into those gaps;
//        longTasks: PerformanceObserver 'longtask' entries during the run (null where unsupported);
//        ok: null unless verify (then: count, column sums and sampled records equal JSON.parse's);
//        verify: {ok, problems, count, expectedCount, sums, expectedSums, samples: [{index, actual, expected, equal}]}
//        trace: mark the window with performance.mark('measure-start'/'measure-end') (scripts/trace.mjs);
//        stalls: also return every stall the probe counted, [{at, ms}] (ms after the window opened)
//   parseJson, generateDataset: the raw API (for tests),
//   setAnimation(on: boolean),                 // off: frames are recorded but nothing is drawn (the bench)
//   idleCost() -> Promise<number>,             // blocked ms per second of the idle page, drawing as now
//   probeControl(ms, {trace?}) -> Promise<{busyMs, totalMs, mainBlockedMs, ...}>  // a worker spins, the page idles
//   runSort(strategy: 'main' | 'isolate', n)
//     -> Promise<{strategy, n, totalMs, mainBlockedMs, maxGapMs, missedFrames, framesLost, longGaps, sorted, length}>
// }
// One measured run at a time: overlapping runs would disturb each other's numbers.

import init, { capabilities, generateDataset, parseJson, prewarmJson, sortInIsolate } from './pkg/wasm_isolates.js';
import { frameStats, isAnimating, nextFrame, recordFrames, setAnimation, startFrames } from './frames.js';
import { longTasksSupported, recordLongTasks, startBusyProbe } from './probe.js';
import { drawEmpty, drawScatter } from './scatter.js';
import {
  DEFAULT_SEED, KINDS, SIZES_MB, STRATEGIES, STRATEGY_NAMES, datasetInfo, getDataset, reference, spinPlainWorker, verify,
  warmPlainWorker,
} from './strategies.js';

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('en-US');
const round1 = (x) => Math.round(x * 10) / 10;
const MAX_N = 50_000_000;

// ---------------------------------------------------------------------------------------------
// The measured window, the same for every strategy

/**
 * Runs `fn` between two frame boundaries with the frame recorder, the busy probe and the long-task
 * recorder on. Two frames are let through after `fn` settles so that a gap caused by a blocked
 * main thread is closed and counted.
 */
async function measure(fn, { trace = false, stalls = false } = {}) {
  await nextFrame(); // settle: let any work queued by the preparation run first
  const start = await nextFrame(); // align with a frame boundary
  // Open the window in the task after that frame, not inside its rAF callback: the frame's own
  // rendering (style, paint of DOM changes made before the run, such as the status line) runs
  // after the callbacks and is not the strategy's work.
  await afterRendering();
  const frames = recordFrames(start);
  const probe = startBusyProbe({ keep: stalls });
  const longTasks = recordLongTasks();
  if (trace) performance.mark('measure-start'); // the window, for performance traces (scripts/trace.mjs)
  const t0 = performance.now();
  let value;
  let error = null;
  try {
    value = await fn();
  } catch (err) {
    error = err;
  }
  const totalMs = performance.now() - t0;
  await nextFrame();
  await nextFrame();
  if (trace) performance.mark('measure-end');
  const busy = probe.stop();
  const stats = frameStats(frames.stop());
  const tasks = longTasks.stop();
  if (error) throw error;
  return {
    value,
    totalMs: round1(totalMs),
    mainBlockedMs: round1(busy.blockedMs),
    maxBlockMs: round1(busy.maxBlockMs),
    maxGapMs: round1(stats.maxGapMs),
    missedFrames: stats.missedFrames,
    framesLost: stats.framesLost,
    frames: stats.frames,
    longTasks: tasks === null ? null : tasks.length,
    longTaskMs: tasks === null ? null : round1(tasks.reduce((s, t) => s + t.duration, 0)),
    longTaskList: tasks, // [{startTime (ms after the window opened), duration, name}] or null
    // With `stalls`: every counted stall, [{at (ms after the window opened), ms}].
    stalls: stalls ? busy.stalls.map((s) => ({ at: round1(s.at - t0), ms: round1(s.ms) })) : undefined,
  };
}

/**
 * Resolves in a task queued now: from a rAF callback, that task runs after the frame is rendered.
 * (A 0 ms timer set from a rAF callback is not nested in other timers, so it is not clamped.)
 */
function afterRendering() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * What the idle page itself costs the main thread, in blocked ms per second, with the drawing as
 * it is now (measured once per state, in the run queue so that no run overlaps it).
 */
const idleCost = new Map();
async function measureIdleCost(ms = 1000) {
  await nextFrame();
  await nextFrame();
  const probe = startBusyProbe();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const { blockedMs } = probe.stop();
  const perSecond = round1((blockedMs * 1000) / (performance.now() - t0));
  idleCost.set(isAnimating(), perSecond);
  showBlockedNote();
  return perSecond;
}

function showBlockedNote() {
  const cost = idleCost.get(true);
  $('blocked-note').textContent = '† measured with the animation on: includes this page’s own frame rendering (style, paint, commit), '
    + (cost === undefined ? 'which the idle page pays too.' : `≈ ${fmt.format(cost)} ms per second on the idle page here.`)
    + ' Untick “animate” to measure the strategy alone (frames are still timed).';
}

// ---------------------------------------------------------------------------------------------
// JSON runs

let queue = Promise.resolve();
function exclusive(job) {
  const run = queue.then(() => ready).then(job);
  queue = run.catch(() => {});
  return run;
}

async function generate(kind, mb, seed = DEFAULT_SEED) {
  setStatus(`Generating ${kind}, ${mb} MB in an isolate…`);
  const ds = await getDataset(kind, mb, seed);
  showDataset(ds);
  return datasetInfo(ds);
}

function runJson(strategy, { kind = 'points', mb = 10, seed = DEFAULT_SEED, verify: wantVerify = false, input, budgetMs, trace = false, stalls = false } = {}) {
  if (!Object.hasOwn(STRATEGIES, strategy)) {
    return Promise.reject(new TypeError(`runJson: strategy must be one of ${STRATEGY_NAMES.join(', ')}, got ${String(strategy)}`));
  }
  return exclusive(async () => {
    setBusy(true);
    const spec = STRATEGIES[strategy];
    try {
      const ds = await getDataset(kind, Number(mb), seed);
      showDataset(ds);
      if (wantVerify) reference(ds); // JSON.parse's view, computed once per dataset, before the window
      const options = { input, budgetMs, fields: KINDS[kind].fields, onProgress: showProgress };
      const prepared = await spec.prepare(ds, options);
      globalThis.gc?.(); // only with --js-flags=--expose-gc (the bench): start every run from a collected heap

      setStatus(`Running ${strategy} on ${kind}, ${ds.mb} MB…`);
      const m = await measure(() => spec.run(prepared, options), { trace, stalls });
      hideProgress();

      // Not measured from here on.
      let checked = null;
      let verdict = null;
      try {
        checked = await spec.check(m.value, ds);
        if (wantVerify) verdict = verify(checked, ds);
      } finally {
        await spec.release?.(m.value);
      }
      if (strategy === 'columns') plotColumns(m.value, kind);
      if (strategy === 'handle') showPreview(m.value.page);

      const { value: _value, ...numbers } = m;
      const row = {
        strategy,
        kind,
        mb: ds.mb,
        byteLength: ds.bytes.byteLength,
        input: strategy === 'main-parse' ? 'string' : (input ?? 'bytes'),
        animated: isAnimating(),
        ...numbers,
        ok: verdict ? verdict.ok : null,
        checksum: { count: checked.count, sums: checked.sums },
        verify: verdict,
      };
      addJsonRow(row);
      setStatus(`${strategy}: ${fmt.format(checked.count)} records in ${row.totalMs} ms; main thread blocked ${row.mainBlockedMs} ms; `
        + `${row.missedFrames} missed frame${row.missedFrames === 1 ? '' : 's'}.`
        + (verdict ? (verdict.ok ? ' Equal to JSON.parse.' : ` Differs from JSON.parse: ${verdict.problems[0]}`) : ''), verdict?.ok === false);
      return row;
    } catch (err) {
      hideProgress();
      setStatus(`${strategy} failed: ${err?.name ?? 'Error'}: ${err?.message ?? err}`, true);
      throw err;
    } finally {
      setBusy(false);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Sort runs (the first demo: a Float64Array sorted on the main thread or in an isolate)

/** Fixed-seed PRNG (mulberry32) → Float64Array of n values in [0, 1) with 53 random bits. */
function randomInput(n, seed = 0x5eed1234) {
  let state = seed >>> 0;
  const next32 = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
  return out;
}

function sum(values) {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

/** Sorted ascending, right length, same sum (a cheap permutation check). */
function checkSorted(result, n, expectedSum) {
  if (!(result instanceof Float64Array) || result.length !== n) return false;
  for (let i = 1; i < result.length; i++) if (!(result[i - 1] <= result[i])) return false;
  return Math.abs(sum(result) - expectedSum) <= 1e-9 * Math.max(1, Math.abs(expectedSum));
}

const SORTS = {
  main: (values) => values.sort(), // Float64Array#sort is numeric and in place
  isolate: (values) => sortInIsolate(values),
};

function runSort(strategy, n) {
  if (!Object.hasOwn(SORTS, strategy)) {
    return Promise.reject(new TypeError(`runSort: strategy must be 'main' or 'isolate', got ${String(strategy)}`));
  }
  n = Number(n);
  if (!Number.isInteger(n) || n < 1 || n > MAX_N) {
    return Promise.reject(new RangeError(`runSort: n must be an integer in 1..${MAX_N}`));
  }
  return exclusive(async () => {
    setBusy(true, `Sorting ${fmt.format(n)} numbers ${strategy === 'main' ? 'on the main thread' : 'in an isolate'}…`);
    try {
      const input = randomInput(n);
      const expectedSum = sum(input);
      const m = await measure(() => SORTS[strategy](input));
      const row = {
        strategy,
        n,
        totalMs: m.totalMs,
        mainBlockedMs: m.mainBlockedMs,
        maxGapMs: m.maxGapMs,
        missedFrames: m.missedFrames,
        framesLost: m.framesLost,
        longGaps: m.missedFrames,
        longTasks: m.longTasks,
        sorted: checkSorted(m.value, n, expectedSum),
        length: m.value?.length ?? 0,
      };
      addSortRow(row);
      setStatus(`Sorted ${fmt.format(n)} numbers (${strategy}) in ${row.totalMs} ms; longest frame gap ${row.maxGapMs} ms.`);
      return row;
    } catch (err) {
      setStatus(`Sort failed (${strategy}): ${err?.message ?? err}`, true);
      throw err;
    } finally {
      setBusy(false);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// UI

function setStatus(text, isError = false) {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', isError);
}

let progressShown = false;
function showProgress({ done, total } = {}) {
  if (!(total > 0)) return;
  const el = $('progress');
  if (!progressShown) {
    el.hidden = false;
    progressShown = true;
  }
  el.value = Math.min(1, done / total);
}
function hideProgress() {
  progressShown = false;
  $('progress').hidden = true;
}

let uiReady = false;
const CONTROL_IDS = ['kind', 'mb', 'verify', 'animate', 'run-all', 'sort-main', 'sort-isolate', 'n', ...STRATEGY_NAMES.map((s) => `run-${s}`)];
function setBusy(busy, text) {
  for (const id of CONTROL_IDS) $(id).disabled = busy || !uiReady;
  if (text) setStatus(text);
}

function showDataset(ds) {
  const info = datasetInfo(ds);
  $('dataset-info').textContent = `${info.kind}: ${fmt.format(info.byteLength)} bytes`
    + (info.records !== null ? `, ${fmt.format(info.records)} records` : '')
    + `, generated in an isolate in ${fmt.format(Math.round(info.generateMs))} ms (seed ${info.seed})`;
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function addJsonRow(row) {
  const tr = document.createElement('tr');
  tr.className = `strategy-${row.strategy}`;
  const check = row.ok === null ? ['—', ''] : row.ok ? ['✓ = JSON.parse', 'check-ok'] : ['✗ differs', 'check-bad'];
  tr.append(
    cell(row.strategy, 'name'),
    cell(row.kind),
    cell(String(row.mb)),
    cell(row.totalMs.toFixed(1)),
    cell(`${row.mainBlockedMs.toFixed(1)}${row.animated ? ' †' : ''}`, row.mainBlockedMs >= 50 ? 'missed' : ''),
    cell(row.maxGapMs.toFixed(1), row.maxGapMs > 25 ? 'missed' : ''),
    cell(String(row.missedFrames), row.missedFrames > 0 ? 'missed' : ''),
    cell(String(row.framesLost), row.framesLost > 0 ? 'missed' : ''),
    cell(row.longTasks === null ? 'n/a' : String(row.longTasks), row.longTasks > 0 ? 'missed' : ''),
    cell(...check),
  );
  if (row.verify && !row.verify.ok) tr.title = row.verify.problems.join('\n');
  $('results').tBodies[0].prepend(tr);
}

function addSortRow(row) {
  const tr = document.createElement('tr');
  tr.append(
    cell(row.strategy === 'main' ? 'main thread' : 'isolate'),
    cell(fmt.format(row.n)),
    cell(row.totalMs.toFixed(1)),
    cell(row.mainBlockedMs.toFixed(1)),
    cell(row.maxGapMs.toFixed(1)),
    cell(String(row.missedFrames), row.missedFrames > 0 ? 'missed' : ''),
    cell(row.sorted ? '✓ sorted' : '✗ wrong', row.sorted ? 'check-ok' : 'check-bad'),
  );
  $('sort-results').tBodies[0].prepend(tr);
}

function plotColumns(result, kind) {
  const { x, y } = KINDS[kind];
  const xs = result.columns?.[x];
  const ys = result.columns?.[y];
  if (!(xs instanceof Float64Array) || !(ys instanceof Float64Array)) {
    drawEmpty($('scatter'), `no numeric columns ${x}, ${y} in the result`);
    return;
  }
  const drawn = drawScatter($('scatter'), { xs, ys, xLabel: x, yLabel: y });
  $('scatter-caption').textContent = `${fmt.format(drawn)} ${kind} (${y} against ${x}), drawn straight from the Float64Array columns.`;
}

function showPreview(page) {
  const lines = page.slice(0, 3).map((r) => JSON.stringify(r));
  $('preview').textContent = `first records of the last handle page:\n${lines.join('\n')}`;
}

function setBadge(id, text, kind, title = '') {
  const el = $(id);
  el.textContent = text;
  el.className = `badge badge-${kind}`;
  el.title = title;
}

function showCapabilities(c) {
  if (c.crossOriginIsolated) {
    // WebKitGTK is isolated yet has no SharedArrayBuffer: say what this browser really offers.
    setBadge('badge-coi', 'cross-origin isolated', 'ok', c.sharedArrayBuffer
      ? 'COOP/COEP are set: SharedArrayBuffer is available'
      : 'COOP/COEP are set, but this browser does not expose SharedArrayBuffer even so');
  } else {
    setBadge('badge-coi', 'not cross-origin isolated', 'warn',
      'Serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp');
  }
  if (!c.canRun) {
    setBadge('badge-isolates', 'isolates unavailable', 'bad', 'this browser has no module workers');
  } else if (c.canSpawn) {
    setBadge('badge-isolates', 'long-lived isolates available', 'ok', 'Isolate.spawn, pause, kill and cooperative cancellation work');
  } else {
    setBadge('badge-isolates', 'one-shot isolates only', 'warn', 'run / compute / pool tasks work; long-lived isolates need SharedArrayBuffer');
  }
  setBadge('badge-cores', `${c.hardwareConcurrency} logical cores`, 'info', `context: ${c.context}`);
  setBadge('badge-longtasks', c.longTasks ? 'Long Tasks API: yes' : 'Long Tasks API: no', 'info',
    c.longTasks ? 'tasks of 50 ms or more are counted' : 'this browser does not report long tasks; see "main thread blocked"');
}

function updateLabels() {
  const text = fmt.format(Number($('n').value));
  for (const el of document.querySelectorAll('.n-label')) el.textContent = text;
}

function currentChoice() {
  return { kind: $('kind').value, mb: Number($('mb').value), verify: $('verify').checked };
}

function logFailure(err) {
  // Already shown in the status line; keep the stack for developers.
  console.warn(err);
}

// ---------------------------------------------------------------------------------------------
// Start-up

startFrames($('stage'), $('chart'));
drawEmpty($('scatter'), 'run “columns” to plot the records');

$('n').addEventListener('change', updateLabels);
$('sort-main').addEventListener('click', () => runSort('main', Number($('n').value)).catch(logFailure));
$('sort-isolate').addEventListener('click', () => runSort('isolate', Number($('n').value)).catch(logFailure));
for (const name of STRATEGY_NAMES) {
  $(`run-${name}`).addEventListener('click', () => runJson(name, currentChoice()).catch(logFailure));
}
$('animate').addEventListener('change', () => setAnimation($('animate').checked));
$('run-all').addEventListener('click', async () => {
  try {
    for (const name of STRATEGY_NAMES) await runJson(name, currentChoice());
  } catch (err) {
    logFailure(err);
  }
});
for (const id of ['kind', 'mb']) {
  $(id).addEventListener('change', () => {
    const { kind, mb } = currentChoice();
    exclusive(() => generate(kind, mb)).then(() => setStatus('Dataset ready: pick a strategy.'), logFailure);
  });
}
updateLabels();

let caps = null;
const CAPABILITY_KEYS = ['workers', 'moduleWorkers', 'sharedArrayBuffer', 'crossOriginIsolated', 'hardwareConcurrency', 'context', 'inIsolate', 'canRun', 'canSpawn'];

/** A plain copy of what wasm-isolates reports (works for a plain object, a Map or a class with getters). */
function readCapabilities() {
  const raw = capabilities();
  const get = raw instanceof Map ? (k) => raw.get(k) : (k) => raw[k];
  return { ...Object.fromEntries(CAPABILITY_KEYS.map((k) => [k, get(k)])), longTasks: longTasksSupported() };
}

const ready = init().then(() => {
  // Start a JSON isolate now, so the first parse does not pay for a worker start.
  prewarmJson();
  caps = readCapabilities();
  showCapabilities(caps);
  uiReady = true;
  setBusy(false);
  setStatus('Ready. Pick a dataset and a strategy, and watch the square while it runs.');
  showBlockedNote();
  // What the animated idle page costs by itself (for the † note); runs wait for it.
  exclusive(() => measureIdleCost()).catch(logFailure);
});
ready.catch((err) => {
  setBadge('badge-coi', 'failed to load', 'bad');
  setBadge('badge-isolates', '', 'info');
  setStatus(`Could not initialise the wasm module: ${err?.message ?? err}`, true);
});

window.__demo = {
  ready,
  capabilities() {
    if (!caps) throw new Error('__demo.capabilities(): await __demo.ready first');
    return { ...caps };
  },
  strategies: [...STRATEGY_NAMES],
  kinds: Object.keys(KINDS),
  sizes: [...SIZES_MB],
  generate: (kind, mb, seed) => exclusive(() => generate(kind, mb, seed)),
  runJson,
  runSort,
  /** Drawing on (default) or off; the rAF loop and the measurements go on either way. */
  setAnimation(on) {
    setAnimation(on);
    $('animate').checked = Boolean(on);
  },
  /** Blocked ms per second on the idle page, with the drawing as it is now. */
  idleCost: () => exclusive(() => measureIdleCost()),
  /**
   * The instruments' control: the same measured window around a plain worker spinning for `ms`
   * while the main thread does nothing. What the probe reads here is the OS descheduling the
   * main thread while a core is busy, not work.
   */
  probeControl: (ms = 300, { trace = false } = {}) => exclusive(async () => {
    await warmPlainWorker();
    globalThis.gc?.();
    const { value: _value, ...numbers } = await measure(() => spinPlainWorker(ms), { trace });
    return { busyMs: ms, ...numbers };
  }),
  parseJson,
  generateDataset,
};
