// The common approach to big JSON, for comparison: a plain module worker (no wasm) receives the
// UTF-8 bytes by transfer, decodes and JSON.parses them, and posts the resulting object back. The
// parse happens off the main thread, but the structured clone of the result is rebuilt on the main
// thread when the page reads `event.data` — an object graph the size of the document.
//
// Messages in: {id, bytes: Uint8Array} (bytes transferred) or {id, text: string}; out: {id, value}
// or {id, error: {name, message}}. {id, ping: true} answers {id, pong: true} (warm-up).
// {id, spin: ms} keeps this worker's thread busy for `ms` and answers {id, pong: true}: the
// bench's control run (a core busy, nothing on the main thread; see probeControl in main.js).

const decoder = new TextDecoder();

self.onmessage = (event) => {
  const { id, bytes, text, ping, spin } = event.data;
  if (ping) {
    self.postMessage({ id, pong: true });
    return;
  }
  if (spin > 0) {
    const until = performance.now() + Math.min(spin, 10_000);
    while (performance.now() < until) { /* busy on purpose */ }
    self.postMessage({ id, pong: true });
    return;
  }
  try {
    const value = JSON.parse(text ?? decoder.decode(bytes));
    self.postMessage({ id, value });
  } catch (err) {
    self.postMessage({ id, error: { name: err?.name ?? 'Error', message: String(err?.message ?? err) } });
  }
};
