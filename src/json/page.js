// The JSON service's work on the calling thread (src/js/json.rs, src/json/document.rs): encoding a
// JS string source in slices, and receiving `parseJson(…, {mode: 'objects'})` without losing a
// frame. Plain JS because these are the hot loops on the page's thread: one call per slice
// instead of one wasm→JS call per record or per character.

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Units `start..end` of `text` as UTF-8 in a new buffer (to be moved to the isolate by transfer),
 * and how many of its bytes were written: `[buffer, written]`. `encodeInto` writes straight into
 * the buffer (three bytes per unit at most), so the string is read once and never copied into a
 * string of its own. A lone surrogate becomes U+FFFD, as everywhere a JS string becomes UTF-8.
 */
export function encodeSlice(text, start, end) {
  const bytes = new Uint8Array((end - start) * 3);
  const { written } = encoder.encodeInto(start === 0 && end === text.length ? text : text.slice(start, end), bytes);
  return [bytes.buffer, written];
}

/**
 * Parses a slice of records (`bytes`: UTF-8 JSON text of an array) and appends its elements to
 * `out`. `JSON.parse` builds the objects: the engine's own builder, faster than anything built
 * through wasm calls, and it keeps key order. Returns the number of records appended.
 */
export function appendParsed(out, bytes) {
  const items = JSON.parse(decoder.decode(bytes));
  const n = items.length;
  for (let i = 0; i < n; i++) out.push(items[i]);
  return n;
}

/**
 * Resolves with `performance.now()` at the start of the next slot of main-thread time: a macrotask
 * queued from a `requestAnimationFrame` callback, so it runs right after that frame has been
 * rendered, with a whole frame interval ahead of it. Work done there (and a garbage collection it
 * triggers) delays no frame unless it outlasts the interval.
 *
 * Where no frame will come — a worker, a hidden page (no rAF callbacks there at all) — it is a
 * plain macrotask (a MessageChannel round, unclamped), so delivery never waits on rendering that
 * is not happening. `maxWaitMs` bounds the wait for a frame in case the page is hidden meanwhile.
 */
export function nextSlot(maxWaitMs) {
  return new Promise((resolve) => {
    let done = false;
    let timer = null;
    const run = () => {
      if (done) return;
      done = true;
      if (timer !== null) clearTimeout(timer);
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => {
        port1.close();
        resolve(performance.now());
      };
      port2.postMessage(null);
    };
    const frames = typeof requestAnimationFrame === 'function'
      && !(typeof document !== 'undefined' && document.hidden);
    if (!frames) {
      run();
      return;
    }
    timer = setTimeout(run, maxWaitMs);
    requestAnimationFrame(run);
  });
}
