// Main-thread work from a Chromium performance trace: the bench's second instrument.
//
// Why a second instrument. The page's busy probe (www/probe.js) measures how late the main thread
// answers — whatever the cause. On a machine with few cores, a worker that keeps one core busy
// makes the OS deschedule the main thread now and then, and the probe counts those waits as
// blocked time although the page did no work (a control on the bench machine, 2 vCPUs: a plain
// worker spinning for 300 ms, nothing else running, reads 0–14 ms "blocked"). A trace tells the
// two apart: every task the renderer's main thread runs is recorded with its wall time (`dur`)
// and the thread's CPU time (`tdur`), so the tasks that do work can be told from the waiting ones.
//
// What is counted: top-level tasks (`ThreadControllerImpl::RunTask`, category `toplevel`) on the
// thread named `CrRendererMain` of the process that recorded the window's start mark, that overlap
// the window between the two user-timing marks, and that used at least `minTaskMs` of CPU in it
// (the probe's threshold, 1 ms: the probe's own ~1,500 tasks a second, ≈ 0.1 ms each, stay out,
// however long the OS keeps one of them waiting). Each such task counts with its wall time
// (`busyMs`, the longest `longestMs`): while it runs, input waits, whether the thread computes,
// waits for GC helper threads (a 50 MB `JSON.parse` spends a third of its time so) or is
// descheduled. A task the window cuts counts only its share inside, by wall time: the task
// holding the start mark runs the measurement's set-up before the mark and the strategy's first
// synchronous work after it (all of `JSON.parse`, for `main-parse`); the one holding the end mark,
// the probe's tear-down after it. Work split into many tasks under 1 ms of CPU each is counted by
// neither instrument; `tasks`/`allMs` (CPU) report every task in the window for that reason.

/** The categories the bench records: top-level tasks and user-timing marks only (low overhead). */
export const TRACE_CATEGORIES = ['toplevel', 'blink.user_timing'];

const TASK = 'ThreadControllerImpl::RunTask';

/**
 * The main thread's busy time between two marks (see above).
 * @param {Array<object>} events Chrome trace events (`traceEvents` of a trace file).
 * @param {{startMark?: string, endMark?: string, minTaskMs?: number}} [options]
 * @returns {{busyMs: number, longestMs: number, counted: number, tasks: number, allMs: number, windowMs: number}}
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
  let busyMs = 0;
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
    const wallMs = inside / 1000;
    tasks++;
    allMs += cpuMs;
    if (cpuMs < minTaskMs) continue;
    counted++;
    busyMs += wallMs;
    if (wallMs > longestMs) longestMs = wallMs;
  }
  return { busyMs, longestMs, counted, tasks, allMs, windowMs: (end.ts - start.ts) / 1000 };
}
