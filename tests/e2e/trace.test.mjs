// scripts/trace.mjs: the bench's main-thread-work instrument, on synthetic Chromium traces (no
// browser: what is checked is which tasks count and how much of each).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mainThreadWork } from '../../scripts/trace.mjs';

const PAGE = 10; // renderer process of the page
const MAIN = 1;
const COMPOSITOR = 2;
const OTHER = 20; // another renderer

const meta = [
  { ph: 'M', name: 'thread_name', pid: PAGE, tid: MAIN, args: { name: 'CrRendererMain' } },
  { ph: 'M', name: 'thread_name', pid: PAGE, tid: COMPOSITOR, args: { name: 'Compositor' } },
  { ph: 'M', name: 'thread_name', pid: OTHER, tid: MAIN, args: { name: 'CrRendererMain' } },
];
const mark = (name, ms) => ({ ph: 'R', name, pid: PAGE, tid: MAIN, ts: ms * 1000 });
/** A top-level task at `at` ms lasting `wall` ms of which `cpu` ms on the CPU. */
const task = (at, wall, cpu, { pid = PAGE, tid = MAIN, name = 'ThreadControllerImpl::RunTask' } = {}) => ({
  ph: 'X', name, pid, tid, ts: at * 1000, dur: wall * 1000, ...(cpu === undefined ? {} : { tdur: cpu * 1000 }),
});
const trace = (...events) => [...meta, mark('measure-start', 100), mark('measure-end', 300), ...events];
const near = (actual, expected) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);

test('sums the wall time of main-thread tasks with 1 ms of CPU or more inside the window', () => {
  const r = mainThreadWork(trace(task(120, 40, 38), task(200, 5, 4), task(250, 0.5, 0.4)));
  near(r.busyMs, 45);
  near(r.longestMs, 40);
  assert.equal(r.counted, 2);
  assert.equal(r.tasks, 3);
  near(r.allMs, 42.4);
  near(r.windowMs, 200);
});

test('a tiny task the OS kept waiting does not count; a working task counts its waits too', () => {
  const r = mainThreadWork(trace(task(150, 6, 0.3)));
  near(r.busyMs, 0);
  assert.equal(r.counted, 0);
  assert.equal(r.tasks, 1);
  // 480 ms of JSON.parse of which 300 on the CPU (the rest waiting for GC helpers): 480 blocked.
  near(mainThreadWork(trace(task(110, 180, 110))).busyMs, 180);
});

test('other threads, other processes, nested events and tasks outside the window do not count', () => {
  const r = mainThreadWork(trace(
    task(150, 50, 50, { tid: COMPOSITOR }),
    task(150, 50, 50, { pid: OTHER }),
    task(150, 50, 50, { name: 'FunctionCall' }),
    task(20, 50, 50), // ends before the window
    task(310, 50, 50), // starts after it
  ));
  near(r.busyMs, 0);
  assert.equal(r.tasks, 0);
});

test('a task the window cuts counts its share inside', () => {
  // 90..110 ms: half inside; 290..330 ms: a quarter inside.
  const r = mainThreadWork(trace(task(90, 20, 20), task(290, 40, 40)));
  near(r.busyMs, 10 + 10);
  assert.equal(r.counted, 2);
  // The share inside is what the threshold sees: 4 ms of which 0.5 inside is not counted.
  near(mainThreadWork(trace(task(96.5, 4, 4))).busyMs, 0);
});

test('without thread time a task counts as working (over, not under)', () => {
  near(mainThreadWork(trace(task(150, 7))).busyMs, 7);
});

test('the threshold is an option', () => {
  near(mainThreadWork(trace(task(150, 0.5, 0.5)), { minTaskMs: 0 }).busyMs, 0.5);
});

test('a trace that cannot be read is an error, never "no work"', () => {
  assert.throws(() => mainThreadWork([...meta, mark('measure-end', 300)]), /no "measure-start" mark/);
  assert.throws(() => mainThreadWork([...meta, mark('measure-start', 100)]), /no "measure-end" mark/);
  assert.throws(() => mainThreadWork([...meta, mark('measure-start', 300), mark('measure-end', 100)]), /comes before/);
  assert.throws(() => mainThreadWork([mark('measure-start', 100), mark('measure-end', 300)]), /no CrRendererMain thread/);
  assert.throws(() => mainThreadWork(null), TypeError);
});
