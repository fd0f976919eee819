// A density scatter of two Float64Array columns, drawn into an ImageData (one pass over the
// points, no per-point canvas calls: a million points take a few milliseconds).

import { fitCanvas, themeColor } from './frames.js';

function parseColor(css) {
  // Canvas normalises any CSS colour to #rrggbb or rgba(...): read it back from a 1×1 fill.
  const c = document.createElement('canvas').getContext('2d');
  c.fillStyle = css;
  c.fillRect(0, 0, 1, 1);
  const [r, g, b] = c.getImageData(0, 0, 1, 1).data;
  return [r, g, b];
}

function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

/**
 * Draws `xs` against `ys` (NaN skipped). Returns the number of points drawn.
 * @param {HTMLCanvasElement} canvas
 * @param {{xs: Float64Array, ys: Float64Array, xLabel: string, yLabel: string}} data
 */
export function drawScatter(canvas, { xs, ys, xLabel, yLabel }) {
  const { ctx, width, height, dpr } = fitCanvas(canvas);
  ctx.fillStyle = themeColor('panel');
  ctx.fillRect(0, 0, width, height);
  const pad = { left: 46, right: 8, top: 8, bottom: 28 };
  const n = Math.min(xs.length, ys.length);
  const [x0, x1] = extent(xs);
  const [y0, y1] = extent(ys);

  // Density in device pixels.
  const pw = Math.max(1, Math.round((width - pad.left - pad.right) * dpr));
  const ph = Math.max(1, Math.round((height - pad.top - pad.bottom) * dpr));
  const counts = new Uint32Array(pw * ph);
  let drawn = 0;
  let maxCount = 0;
  const sx = (pw - 1) / (x1 - x0 || 1);
  const sy = (ph - 1) / (y1 - y0 || 1);
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    const y = ys[i];
    if (Number.isNaN(x) || Number.isNaN(y)) continue;
    const px = Math.round((x - x0) * sx);
    const py = ph - 1 - Math.round((y - y0) * sy);
    const k = py * pw + px;
    const c = ++counts[k];
    if (c > maxCount) maxCount = c;
    drawn++;
  }
  const image = ctx.createImageData(pw, ph);
  const [r, g, b] = parseColor(themeColor('accent'));
  // Density on a log scale, in a few steps (clearer to read, and the picture compresses well).
  const STEPS = 4;
  const top = Math.log1p(maxCount || 1);
  for (let k = 0; k < counts.length; k++) {
    if (counts[k] === 0) continue;
    const step = Math.max(1, Math.ceil((Math.log1p(counts[k]) / top) * STEPS));
    const o = k * 4;
    image.data[o] = r;
    image.data[o + 1] = g;
    image.data[o + 2] = b;
    image.data[o + 3] = Math.round(70 + (185 * step) / STEPS);
  }
  ctx.putImageData(image, Math.round(pad.left * dpr), Math.round(pad.top * dpr));

  // Axes and labels (in CSS pixels).
  ctx.strokeStyle = themeColor('border');
  ctx.lineWidth = 1;
  ctx.strokeRect(pad.left - 0.5, pad.top - 0.5, width - pad.left - pad.right + 1, height - pad.top - pad.bottom + 1);
  ctx.fillStyle = themeColor('muted');
  ctx.font = '10px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
  ctx.fillText(fmt(x0), pad.left, height - pad.bottom + 4);
  const right = fmt(x1);
  ctx.fillText(right, width - pad.right - ctx.measureText(right).width, height - pad.bottom + 4);
  const xl = `${xLabel} →`;
  ctx.fillText(xl, (width - ctx.measureText(xl).width) / 2, height - pad.bottom + 14);
  ctx.textBaseline = 'middle';
  ctx.fillText(fmt(y1), 2, pad.top + 6);
  ctx.fillText(fmt(y0), 2, height - pad.bottom - 6);
  ctx.save();
  ctx.translate(12, (height - pad.bottom) / 2 + 10);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(`${yLabel} →`, 0, 0);
  ctx.restore();
  return drawn;
}

/** An empty plot with a message in the middle. */
export function drawEmpty(canvas, message) {
  const { ctx, width, height } = fitCanvas(canvas);
  ctx.fillStyle = themeColor('panel');
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = themeColor('muted');
  ctx.font = '12px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.fillText(message, (width - ctx.measureText(message).width) / 2, height / 2);
}
