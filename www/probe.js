// How long the main thread was blocked during a run, measured the same way for every strategy.
//
// Why a probe. Wall-clock time of an `await` says nothing about the main thread (a worker
// strategy awaits for 500 ms while the page stays responsive), and what a strategy could report
// about itself cannot be compared across strategies (`JSON.parse` is one call; a structured clone
// is rebuilt lazily when `event.data` is read; our `objects` mode runs in many slices). So the
// probe keeps asking the main thread for a turn, all through the run, and notes how late each
// turn comes: it alternates a 1 ms timer and a message to itself (each a task; the message
// hop resets the timer nesting level, so the timer is never clamped to 4 ms). When the thread is
// idle a turn comes within ~0.1–0.2 ms of when it is due; when the thread is busy with anything —
// JSON.parse, deserializing a clone, a slice of objects, rendering — the turn waits until that
// work is over, so its lateness is the time the thread was unavailable. Summing the lateness of
// late turns gives the blocked time whatever API caused it. A click would have waited as long.
//
// Details, measured in headless Chromium on a 2-core machine:
// - A turn is late only above BLOCK_THRESHOLD_MS (1 ms); below that it is timer and scheduler
//   noise (idle p99 ≈ 0.8–1.2 ms). Work is seen at about 1 ms resolution: up to 1 ms of a
//   stall that starts while the probe's timer sleeps is not counted.
// - A continuous ping-pong (no timer) would see everything but keeps one core 100 % busy, which
//   on a 2-core machine slows the very workers being measured and made the idle page look
//   blocked 20–50 % of the time (the OS descheduling the spinning thread). The timer hop costs
//   ~1,500 tiny tasks a second.
// - An animated frame costs the main thread ~1.5–3 ms here (style, paint, commit), which counts
//   as blocked like any other work; see setAnimation() in frames.js for how the bench avoids it.
// - When other programs keep the cores busy, the OS deschedules the main thread now and then;
//   that counts too (a click would wait as well). The bench records the load average for this.
//
// The Long Tasks API (`PerformanceObserver` 'longtask', Chromium only) is recorded alongside:
// it reports only tasks of 50 ms or more, which makes it a coarse but independent check (the
// e2e tests assert on its count, never on milliseconds). Elsewhere `longTasks` is null.

export const BLOCK_THRESHOLD_MS = 1;
const SLEEP_MS = 1;

/**
 * Starts the probe; `stop()` returns `{blockedMs, maxBlockMs, blocks, samples}`.
 * With `keep`, also `lates` (every sample's delay, for calibrating the threshold) and `stalls`
 * ([{at, ms}]: when each counted stall began, in performance.now() time, and how long it was).
 */
export function startBusyProbe({ threshold = BLOCK_THRESHOLD_MS, keep = false } = {}) {
  // The message hop is a message the page posts to itself, not a MessageChannel: WebKit delivers
  // MessagePort messages through another process (WebKit2 keeps its message port channels out of
  // the web process), ~0.12 ms a hop here and 10+ ms under load, against ~7 µs for
  // window.postMessage. Under load a hop could then outlast the whole run, and a probe that took
  // no turn reported a 19 ms main-thread sort as 0 ms blocked.
  const tag = `wasm-isolates-probe/${performance.now()}/${Math.random()}`;
  const hop = () => window.postMessage(tag, '*');
  let expected = performance.now();
  let blockedMs = 0;
  let maxBlockMs = 0;
  let blocks = 0;
  let samples = 0;
  let running = true;
  let timer = 0;
  const lates = keep ? [] : null;
  const stalls = keep ? [] : null;
  const note = (now) => {
    const late = now - expected;
    samples++;
    lates?.push(late);
    if (late > threshold) {
      blockedMs += late;
      blocks++;
      if (late > maxBlockMs) maxBlockMs = late;
      stalls?.push({ at: expected, ms: late });
    }
  };
  // Timer → message → timer …: the message hop resets the timer nesting level, so the 1 ms timer
  // is never clamped to 4 ms.
  const onTimer = () => {
    note(performance.now());
    if (!running) return;
    expected = performance.now();
    hop();
  };
  const onMessage = (event) => {
    if (event.source !== window || event.data !== tag) return;
    const now = performance.now();
    note(now);
    if (!running) return;
    expected = now + SLEEP_MS;
    timer = setTimeout(onTimer, SLEEP_MS);
  };
  window.addEventListener('message', onMessage);
  hop();
  return {
    stop() {
      running = false;
      clearTimeout(timer);
      window.removeEventListener('message', onMessage);
      return { blockedMs, maxBlockMs, blocks, samples, lates, stalls };
    },
  };
}

/** Whether this browser reports long tasks (Chromium does; Firefox and Safari do not). */
export function longTasksSupported() {
  return typeof PerformanceObserver === 'function' &&
    Array.isArray(PerformanceObserver.supportedEntryTypes) &&
    PerformanceObserver.supportedEntryTypes.includes('longtask');
}

/**
 * Records long tasks (≥ 50 ms) from now on; `stop()` returns the entries that started after the
 * recorder did, or null where the API does not exist.
 */
export function recordLongTasks() {
  if (!longTasksSupported()) return { stop: () => null };
  const since = performance.now();
  const entries = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ type: 'longtask' });
  return {
    stop() {
      entries.push(...observer.takeRecords());
      observer.disconnect();
      return entries
        .filter((e) => e.startTime + e.duration >= since)
        .map((e) => ({ startTime: e.startTime - since, duration: e.duration, name: e.name }));
    },
  };
}
