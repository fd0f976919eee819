// Main-thread work from a Chromium performance trace: the bench's second instrument.
//
// Why a second instrument. The page's busy probe (www/probe.js) measures how late the main thread
// answers — whatever the cause. On a machine with few cores, a worker that keeps one core busy
// makes the OS deschedule the main thread now and then, and the probe counts those waits as
// blocked time although the page did no work (a control on the bench machine, 2 vCPUs: a plain
// worker spinning for 300 ms, nothing else running, reads 0–14 ms "blocked"). A trace tells the
// two apart: every task the renderer's main thread runs is recorded with its wall time (`dur`)
// and the thread's CPU time (`tdur`), so the work a strategy puts on the main thread can be summed
// directly, without the OS's scheduling in it.
//
// What is counted: top-level tasks (`ThreadControllerImpl::RunTask`, category `toplevel`) on the
// thread named `CrRendererMain` of the process that recorded the window's start mark, that overlap
// the window between the two user-timing marks, and that used at least `minTaskMs` of CPU in it.
// A task the window cuts counts only its share inside (its CPU time × the share of its wall time
// inside): the task holding the start mark runs the measurement's set-up before the mark and the
// strategy's first synchronous work after it (all of `JSON.parse`, for `main-parse`); the one
// holding the end mark, the probe's tear-down after it. Their CPU times are summed (`workMs`);
// the longest one's is `longestMs`. The threshold is the
// probe's (1 ms): shorter tasks delay nothing perceptibly, and the probe's own ~1,500 tasks a
// second (≈ 0.1 ms each) stay out of the sum. Work split into many shorter tasks is not counted
// by either instrument; `tasks`/`allMs` report every task in the window for that reason.

/** The categories the bench records: top-level tasks and user-timing marks only (low overhead). */
export const TRACE_CATEGORIES = ['toplevel', 'blink.user_timing'];

const TASK = 'ThreadControllerImpl::RunTask';

/**
 * Sums the main thread's work between two marks.
 * @param {Array<object>} events Chrome trace events (`traceEvents` of a trace file).
 * @param {{startMark?: string, endMark?: string, minTaskMs?: number}} [options]
 * @returns {{workMs: number, longestMs: number, counted: number, tasks: number, allMs: number, windowMs: number}}
 * @throws {Error} when a mark is missing or the main thread cannot be found: a trace that cannot
 *   be read must not read as "no work".
 */
export function mainThreadWork(events, { startMark = 'measure-start', endMark = 'measure-end', minTaskMs = 1 } = {}) {
  if (!Array.isArray(events)) throw new TypeError('mainThreadWork: events must be an array of trace events');
  const start = events.find((e) => e.name === startMark && typeof e.ts === 'number');
  const end = events.find((e) => e.name === endMark && typeof e.ts === 'number' && e.pid === start?.pid);
  if (!start) throw new Error(`trace has no "${startMark}" mark (was the run traced, with blink.user_timing?)`);
  if (!end) throw new Error(`trace has no "${endMark}" mark after "${startMark}"`);
  if (end.ts < start.ts) throw new Error(`"${endMark}" comes before "${startMark}"`);
  const main = events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === start.pid
    && e.args?.name === 'CrRendererMain');
  if (!main) throw new Error(`no CrRendererMain thread in process ${start.pid}`);
  let workMs = 0;
  let longestMs = 0;
  let counted = 0;
  let tasks = 0;
  let allMs = 0;
  for (const e of events) {
    if (e.ph !== 'X' || e.name !== TASK || e.pid !== main.pid || e.tid !== main.tid) continue;
    const dur = e.dur ?? 0;
    const inside = Math.min(e.ts + dur, end.ts) - Math.max(e.ts, start.ts);
    if (inside < 0 || (inside === 0 && dur > 0)) continue; // entirely outside the window
    const share = dur > 0 ? inside / dur : 1;
    // A task without thread time (the OS did not report it) counts its wall time: over, not under.
    const cpuMs = ((typeof e.tdur === 'number' ? e.tdur : dur) * share) / 1000;
    tasks++;
    allMs += cpuMs;
    if (cpuMs < minTaskMs) continue;
    counted++;
    workMs += cpuMs;
    if (cpuMs > longestMs) longestMs = cpuMs;
  }
  return { workMs, longestMs, counted, tasks, allMs, windowMs: (end.ts - start.ts) / 1000 };
}
