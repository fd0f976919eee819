// The raw platform for `npm run bench` (www/bench.js): a plain module worker, no library.
// Messages in (each answered with a message carrying the same id, except echoes):
//   {id, op: 'ping'}                        → {id}                      tiny round trip
//   {id, op: 'init', module}                → {id, ok}                  import the wasm-bindgen glue and
//                                                                       instantiate the posted WebAssembly.Module
//   {id, op: 'echo', buffer, transfer}      → {id, buffer}              the buffer back, transferred or copied
let glue = null;

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    switch (msg.op) {
      case 'ping':
        self.postMessage({ id: msg.id });
        break;
      case 'init':
        glue = await import('./pkg/wasm_isolates.js');
        glue.initSync({ module: msg.module });
        self.postMessage({ id: msg.id, ok: true });
        break;
      case 'echo':
        if (msg.transfer) self.postMessage({ id: msg.id, buffer: msg.buffer }, [msg.buffer]);
        else self.postMessage({ id: msg.id, buffer: msg.buffer });
        break;
      default:
        self.postMessage({ id: msg.id, error: `unknown op ${msg.op}` });
    }
  } catch (err) {
    self.postMessage({ id: msg.id, error: String(err?.message ?? err) });
  }
};
