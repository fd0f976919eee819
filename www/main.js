// wasm-isolates demo page. No inline scripts, no eval: works under `script-src 'self' 'wasm-unsafe-eval'`.
//
// Test hook: window.__demo = {
//   ready: Promise<void>,                 // resolves once the wasm module is initialised
//   capabilities(): object,               // what wasm-isolates detected (crossOriginIsolated, ...)
//   runSort(strategy: 'main' | 'isolate', n: number)
//     -> Promise<{strategy, n, totalMs, maxGapMs, missedFrames, longGaps, sorted, length}>
//        missedFrames: frames lost in rAF gaps > 25 ms; longGaps: how many such gaps
// }

import init, { capabilities, sortInIsolate } from './pkg/wasm_isolates.js';

const MISSED_FRAME_MS = 25; // 60 Hz jitter alone reaches ~22 ms; over 25 ms a frame was really missed
const CHART_FRAMES = 300;
const MAX_N = 50_000_000;

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('en-US');

// ---------------------------------------------------------------------------------------------
// Frame monitor: a requestAnimationFrame loop that animates a square, records frame intervals
// (ring buffer for the chart) and, while a sort is measured, every frame timestamp.

const intervals = new Float64Array(CHART_FRAMES);
let intervalCount = 0;
let intervalHead = 0;
let lastFrame = null;
const frameWaiters = [];
let recording = null;

function onFrame(ts) {
  if (lastFrame !== null) {
    intervals[intervalHead] = ts - lastFrame;
    intervalHead = (intervalHead + 1) % CHART_FRAMES;
    intervalCount = Math.min(intervalCount + 1, CHART_FRAMES);
  }
  lastFrame = ts;
  if (recording) recording.push(ts);
  drawAnimation(ts);
  drawChart();
  for (const resolve of frameWaiters.splice(0)) resolve(ts);
  requestAnimationFrame(onFrame);
}

/** Resolves with the timestamp of the next animation frame. */
function nextFrame() {
  return new Promise((resolve) => frameWaiters.push(resolve));
}

// ---------------------------------------------------------------------------------------------
// Drawing

const theme = {};
function readTheme() {
  const css = getComputedStyle(document.documentElement);
  for (const name of ['fg', 'muted', 'accent', 'bad', 'border', 'panel']) {
    theme[name] = css.getPropertyValue(`--${name}`).trim() || '#888';
  }
}

/** Size a canvas's backing store to its CSS size × devicePixelRatio; returns the 2D context in CSS px. */
function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, width: canvas.clientWidth, height: canvas.clientHeight };
}

let animationCanvas;
let chartCanvas;

function drawAnimation(ts) {
  const { ctx, width, height } = fitCanvas(animationCanvas);
  ctx.fillStyle = theme.panel;
  ctx.fillRect(0, 0, width, height);

  // A square bouncing left and right, one round trip every 2 s.
  const size = 28;
  const phase = (ts % 2000) / 1000; // 0..2
  const x = (phase < 1 ? phase : 2 - phase) * (width - size - 80) + 10;
  ctx.fillStyle = theme.accent;
  ctx.fillRect(x, (height - size) / 2, size, size);

  // A spinner on the right: one turn a second.
  const cx = width - 40;
  const cy = height / 2;
  const angle = ((ts % 1000) / 1000) * Math.PI * 2;
  ctx.lineWidth = 4;
  ctx.lineCap = 'round';
  ctx.strokeStyle = theme.border;
  ctx.beginPath();
  ctx.arc(cx, cy, 16, 0, Math.PI * 2);
  ctx.stroke();
  ctx.strokeStyle = theme.accent;
  ctx.beginPath();
  ctx.arc(cx, cy, 16, angle, angle + Math.PI / 2);
  ctx.stroke();
}

function drawChart() {
  const { ctx, width, height } = fitCanvas(chartCanvas);
  ctx.fillStyle = theme.panel;
  ctx.fillRect(0, 0, width, height);

  let max = 0;
  for (let i = 0; i < intervalCount; i++) max = Math.max(max, intervals[i]);
  const yMax = Math.min(1000, Math.max(50, Math.ceil((max * 1.1) / 25) * 25));
  const padLeft = 34;
  const plotW = width - padLeft - 4;
  const plotH = height - 8;
  const y = (ms) => 4 + plotH - (Math.min(ms, yMax) / yMax) * plotH;

  // Axis labels.
  ctx.fillStyle = theme.muted;
  ctx.font = '10px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.fillText(`${yMax} ms`, 2, y(yMax) + 5);
  if (y(0) - y(MISSED_FRAME_MS) > 12) ctx.fillText('0', 2, y(0) - 4);

  // The 25 ms line.
  ctx.strokeStyle = theme.bad;
  ctx.lineWidth = 1;
  ctx.setLineDash([4, 3]);
  ctx.beginPath();
  ctx.moveTo(padLeft, y(MISSED_FRAME_MS));
  ctx.lineTo(width - 4, y(MISSED_FRAME_MS));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = theme.bad;
  ctx.fillText('25', 2, y(MISSED_FRAME_MS));

  // Frame intervals, oldest on the left.
  ctx.strokeStyle = theme.accent;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  const start = intervalCount < CHART_FRAMES ? 0 : intervalHead;
  for (let i = 0; i < intervalCount; i++) {
    const v = intervals[(start + i) % CHART_FRAMES];
    const px = padLeft + (i / (CHART_FRAMES - 1)) * plotW;
    if (i === 0) ctx.moveTo(px, y(v));
    else ctx.lineTo(px, y(v));
  }
  ctx.stroke();
}

// ---------------------------------------------------------------------------------------------
// Input and checks

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
  for (let i = 0; i < n; i++) {
    out[i] = ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
  }
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
  for (let i = 1; i < result.length; i++) {
    if (!(result[i - 1] <= result[i])) return false;
  }
  return Math.abs(sum(result) - expectedSum) <= 1e-9 * Math.max(1, Math.abs(expectedSum));
}

// ---------------------------------------------------------------------------------------------
// Running a measured sort

const STRATEGIES = {
  main: (values) => values.sort(), // Float64Array#sort is numeric and in place
  isolate: (values) => sortInIsolate(values),
};

async function measuredSort(strategy, n) {
  const input = randomInput(n);
  const expectedSum = sum(input);

  const start = await nextFrame(); // align with a frame boundary
  const stamps = [start];
  recording = stamps;
  let result;
  let totalMs;
  try {
    const t0 = performance.now();
    result = await STRATEGIES[strategy](input);
    totalMs = performance.now() - t0;
    // Let two more frames through so a gap caused by a blocked main thread is closed and counted.
    await nextFrame();
    await nextFrame();
  } finally {
    recording = null;
  }

  // A gap over 25 ms means frames were missed; a long gap misses all the frames that fit into it
  // (an 880 ms freeze at 60 Hz is ~52 frames, not 1). longGaps is the plain count of such gaps.
  const frameMs = typicalFrameMs();
  let maxGapMs = 0;
  let missedFrames = 0;
  let longGaps = 0;
  for (let i = 1; i < stamps.length; i++) {
    const gap = stamps[i] - stamps[i - 1];
    maxGapMs = Math.max(maxGapMs, gap);
    if (gap > MISSED_FRAME_MS) {
      longGaps++;
      missedFrames += Math.max(1, Math.round(gap / frameMs) - 1);
    }
  }
  return {
    strategy,
    n,
    totalMs: round1(totalMs),
    maxGapMs: round1(maxGapMs),
    missedFrames,
    longGaps,
    sorted: checkSorted(result, n, expectedSum),
    length: result?.length ?? 0,
  };
}

const round1 = (x) => Math.round(x * 10) / 10;

/** The display's frame interval: the median of recent intervals, 1000/60 ms until there are enough. */
function typicalFrameMs() {
  if (intervalCount < 10) return 1000 / 60;
  const recent = Array.from(intervals.subarray(0, intervalCount)).sort((a, b) => a - b);
  const median = recent[recent.length >> 1];
  return Math.min(MISSED_FRAME_MS, Math.max(4, median));
}

// One measured run at a time: overlapping runs would disturb each other's frame statistics.
let queue = Promise.resolve();

function runSort(strategy, n) {
  if (!Object.hasOwn(STRATEGIES, strategy)) {
    return Promise.reject(new TypeError(`runSort: strategy must be 'main' or 'isolate', got ${String(strategy)}`));
  }
  n = Number(n);
  if (!Number.isInteger(n) || n < 1 || n > MAX_N) {
    return Promise.reject(new RangeError(`runSort: n must be an integer in 1..${MAX_N}`));
  }
  const run = queue.then(() => ready).then(async () => {
    setBusy(true, `Sorting ${fmt.format(n)} numbers ${strategy === 'main' ? 'on the main thread' : 'in an isolate'}…`);
    try {
      const row = await measuredSort(strategy, n);
      addRow(row);
      setStatus(`Done: ${row.strategy}, ${fmt.format(row.n)} numbers in ${row.totalMs} ms; longest frame gap ${row.maxGapMs} ms.`);
      return row;
    } catch (err) {
      setStatus(`Sort failed (${strategy}): ${err?.message ?? err}`, true);
      throw err;
    } finally {
      setBusy(false);
    }
  });
  queue = run.catch(() => {});
  return run;
}

// ---------------------------------------------------------------------------------------------
// UI

function setStatus(text, isError = false) {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', isError);
}

let uiReady = false;
function setBusy(busy, text) {
  for (const id of ['sort-main', 'sort-isolate', 'n']) $(id).disabled = busy || !uiReady;
  if (text) setStatus(text);
}

function addRow(row) {
  const tr = document.createElement('tr');
  const cells = [
    [row.strategy === 'main' ? 'main thread' : 'isolate'],
    [fmt.format(row.n)],
    [row.totalMs.toFixed(1)],
    [row.maxGapMs.toFixed(1)],
    [String(row.missedFrames), row.missedFrames > 0 ? 'missed' : ''],
    [row.sorted ? '✓ sorted' : '✗ wrong', row.sorted ? 'check-ok' : 'check-bad'],
  ];
  for (const [text, cls] of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }
  $('results').tBodies[0].prepend(tr);
}

function setBadge(id, text, kind, title = '') {
  const el = $(id);
  el.textContent = text;
  el.className = `badge badge-${kind}`;
  el.title = title;
}

function showCapabilities(caps) {
  if (caps.crossOriginIsolated) {
    setBadge('badge-coi', 'cross-origin isolated', 'ok', 'COOP/COEP are set: SharedArrayBuffer is available');
  } else {
    setBadge('badge-coi', 'not cross-origin isolated', 'warn',
      'Serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp');
  }
  if (caps.sharedArrayBuffer && caps.crossOriginIsolated) {
    setBadge('badge-isolates', 'long-lived isolates available', 'ok', 'Isolate::spawn works');
  } else {
    setBadge('badge-isolates', 'one-shot only', 'warn', 'run / compute / pool tasks work; Isolate::spawn needs SharedArrayBuffer');
  }
  if (!caps.workers || !caps.moduleWorkers) {
    setBadge('badge-isolates', 'no module workers', 'bad', 'this browser cannot run isolates');
  }
  setBadge('badge-cores', `${caps.hardwareConcurrency} logical cores`, 'info', `context: ${caps.context}`);
}

function updateLabels() {
  const text = fmt.format(Number($('n').value));
  for (const el of document.querySelectorAll('.n-label')) el.textContent = text;
}

function onSortClick(strategy) {
  runSort(strategy, Number($('n').value)).catch((err) => {
    // Already shown in the status line; keep the stack for developers.
    console.warn(err);
  });
}

// ---------------------------------------------------------------------------------------------
// Start-up

animationCanvas = $('animation');
chartCanvas = $('chart');
readTheme();
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', readTheme);
requestAnimationFrame(onFrame);

$('n').addEventListener('change', updateLabels);
$('sort-main').addEventListener('click', () => onSortClick('main'));
$('sort-isolate').addEventListener('click', () => onSortClick('isolate'));
updateLabels();

let caps = null;
const CAPABILITY_KEYS = ['workers', 'moduleWorkers', 'sharedArrayBuffer', 'crossOriginIsolated', 'hardwareConcurrency', 'context', 'inIsolate'];

/** A plain copy of what wasm-isolates reports (works for a plain object, a Map or a class with getters). */
function readCapabilities() {
  const raw = capabilities();
  const get = raw instanceof Map ? (k) => raw.get(k) : (k) => raw[k];
  return Object.fromEntries(CAPABILITY_KEYS.map((k) => [k, get(k)]));
}

const ready = init().then(() => {
  caps = readCapabilities();
  showCapabilities(caps);
  uiReady = true;
  setBusy(false);
  setStatus('Ready. Watch the square while each sort runs.');
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
  runSort,
};
