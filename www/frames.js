// The frame monitor: a requestAnimationFrame loop that animates a square and a spinner, keeps the
// last CHART_FRAMES frame intervals for the live chart, and records every frame timestamp while a
// run is measured. When the main thread is blocked the square stops and the chart spikes.
//
// Kept cheap on purpose, because its cost is main-thread time in every measurement: the square and
// the spinner are elements moved with `transform` from rAF (no repaint, only compositing — yet
// they freeze with the main thread, unlike a CSS animation), and the chart canvas is redrawn at
// most every CHART_EVERY frames (at once after a gap over 25 ms). Repainting two canvases every
// frame cost ~2 ms a frame in headless Chromium, which the busy probe would count on every run.

export const MISSED_FRAME_MS = 25; // 60 Hz jitter alone reaches ~22 ms; over 25 ms a frame was really missed
export const CHART_FRAMES = 300;
const CHART_EVERY = 4;

const intervals = new Float64Array(CHART_FRAMES);
let intervalCount = 0;
let intervalHead = 0;
let lastFrame = null;
const frameWaiters = [];
const recorders = new Set();
let square = null;
let spinner = null;
let track = null;
let chartCanvas = null;
let framesSinceChart = 0;
let animating = true;
const theme = {};

function onFrame(ts) {
  if (lastFrame !== null) {
    intervals[intervalHead] = ts - lastFrame;
    intervalHead = (intervalHead + 1) % CHART_FRAMES;
    intervalCount = Math.min(intervalCount + 1, CHART_FRAMES);
  }
  lastFrame = ts;
  for (const stamps of recorders) stamps.push(ts);
  if (animating) animate(ts);
  framesSinceChart++;
  const lastInterval = intervals[(intervalHead + CHART_FRAMES - 1) % CHART_FRAMES];
  if (animating && (framesSinceChart >= CHART_EVERY || lastInterval > MISSED_FRAME_MS)) {
    framesSinceChart = 0;
    drawChart();
  }
  for (const resolve of frameWaiters.splice(0)) resolve(ts);
  requestAnimationFrame(onFrame);
}

/**
 * Starts the loop: `stage` holds the elements `.square` and `.spinner`; `chart` is the canvas of
 * frame intervals.
 */
export function startFrames(stage, chart) {
  track = stage;
  square = stage.querySelector('.square');
  spinner = stage.querySelector('.spinner');
  chartCanvas = chart;
  new ResizeObserver(() => {
    chartSize = null;
    trackWidth = null;
  }).observe(stage);
  readTheme();
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', readTheme);
  requestAnimationFrame(onFrame);
}

/**
 * Turns the drawing on or off. Off, the rAF loop still runs and records every frame (so frame
 * gaps are measured the same way) but touches neither the DOM nor the canvas: frames then cost
 * the main thread next to nothing. The bench runs this way, so that "main thread blocked" is the
 * strategy's own cost and not the ~1.5–3 ms of style, paint and commit that each animated frame
 * costs in headless Chromium on a small machine.
 */
export function setAnimation(on) {
  animating = Boolean(on);
  if (animating) framesSinceChart = CHART_EVERY;
}

/** Whether the drawing is on. */
export function isAnimating() {
  return animating;
}

/** Resolves with the timestamp of the next animation frame. */
export function nextFrame() {
  return new Promise((resolve) => frameWaiters.push(resolve));
}

/** Starts recording frame timestamps; `stop()` returns them. */
export function recordFrames(first) {
  const stamps = first === undefined ? [] : [first];
  recorders.add(stamps);
  return {
    stop() {
      recorders.delete(stamps);
      return stamps;
    },
  };
}

/**
 * Frame statistics of a recorded run. A gap over 25 ms is a missed frame (`missedFrames` counts
 * such gaps); a long gap loses every frame that fits into it (an 880 ms freeze at 60 Hz is ~52
 * frames, not 1): `framesLost` estimates those with the display's typical interval.
 */
export function frameStats(stamps) {
  const frameMs = typicalFrameMs();
  let maxGapMs = 0;
  let missedFrames = 0;
  let framesLost = 0;
  for (let i = 1; i < stamps.length; i++) {
    const gap = stamps[i] - stamps[i - 1];
    maxGapMs = Math.max(maxGapMs, gap);
    if (gap > MISSED_FRAME_MS) {
      missedFrames++;
      framesLost += Math.max(1, Math.round(gap / frameMs) - 1);
    }
  }
  return { maxGapMs, missedFrames, framesLost, frames: stamps.length };
}

/** The display's frame interval: the median of recent intervals, 1000/60 ms until there are enough. */
export function typicalFrameMs() {
  if (intervalCount < 10) return 1000 / 60;
  const recent = Array.from(intervals.subarray(0, intervalCount)).sort((a, b) => a - b);
  const median = recent[recent.length >> 1];
  return Math.min(MISSED_FRAME_MS, Math.max(4, median));
}

// ---------------------------------------------------------------------------------------------
// Drawing

function readTheme() {
  const css = getComputedStyle(document.documentElement);
  for (const name of ['fg', 'muted', 'accent', 'bad', 'ok', 'border', 'panel']) {
    theme[name] = css.getPropertyValue(`--${name}`).trim() || '#888';
  }
}

/** The theme colours as read from the CSS custom properties. */
export function themeColor(name) {
  return theme[name] ?? '#888';
}

/** Size a canvas's backing store to its CSS size × devicePixelRatio; returns the 2D context in CSS px. */
export function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, width: canvas.clientWidth, height: canvas.clientHeight, dpr };
}

let chartSize = null; // fitCanvas result for the chart, until the layout changes
let trackWidth = null;

function animate(ts) {
  trackWidth ??= track.clientWidth;
  // The square bounces left and right, one round trip every 2 s; the spinner turns once a second.
  const phase = (ts % 2000) / 1000; // 0..2
  const x = (phase < 1 ? phase : 2 - phase) * Math.max(0, trackWidth - 120);
  square.style.transform = `translateX(${x.toFixed(1)}px)`;
  spinner.style.transform = `rotate(${(((ts % 1000) / 1000) * 360).toFixed(1)}deg)`;
}

function drawChart() {
  chartSize ??= fitCanvas(chartCanvas);
  const { ctx, width, height, dpr } = chartSize;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = theme.panel;
  ctx.fillRect(0, 0, width, height);

  let max = 0;
  for (let i = 0; i < intervalCount; i++) max = Math.max(max, intervals[i]);
  const yMax = Math.min(1000, Math.max(50, Math.ceil((max * 1.1) / 25) * 25));
  const padLeft = 44;
  const plotW = width - padLeft - 4;
  const plotH = height - 8;
  const y = (ms) => 4 + plotH - (Math.min(ms, yMax) / yMax) * plotH;

  ctx.font = '10px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = theme.muted;
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
  ctx.fillText('25 ms', 2, y(MISSED_FRAME_MS));

  // Frame intervals, oldest on the left; intervals over 25 ms get a red bar.
  const start = intervalCount < CHART_FRAMES ? 0 : intervalHead;
  const px = (i) => padLeft + (i / (CHART_FRAMES - 1)) * plotW;
  ctx.fillStyle = theme.bad;
  for (let i = 0; i < intervalCount; i++) {
    const v = intervals[(start + i) % CHART_FRAMES];
    if (v > MISSED_FRAME_MS) ctx.fillRect(px(i) - 1, y(v), 2, y(0) - y(v));
  }
  ctx.strokeStyle = theme.accent;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  for (let i = 0; i < intervalCount; i++) {
    const v = intervals[(start + i) % CHART_FRAMES];
    if (i === 0) ctx.moveTo(px(i), y(v));
    else ctx.lineTo(px(i), y(v));
  }
  ctx.stroke();
}
