// wasm-isolates: the script of a Web Worker that hosts a gloo-worker `Worker` in this module
// (src/gloo/mod.rs). It runs from a `blob:` URL, which cannot import a relative module, so
// worker/gloo.js prepends the helpers it uses (`TRANSFERABLE_CLASSES`, `transferableOf`,
// `transferListOf`) by their source text; Rust embeds this file with `include_str!`.
//
// It waits for the boot message, adds transfer lists to gloo's postMessage, imports the glue by its
// absolute URL, instantiates the posted module and lets Rust register the gloo Worker, which then
// posts gloo's "loaded" message itself.
/* global transferListOf */
const boot = (event) => {
  const data = event.data;
  if (data === null || typeof data !== 'object' || data.wasmIsolatesGlooBoot !== 1) return;
  event.stopImmediatePropagation();
  globalThis.removeEventListener('message', boot);
  // wasm_isolates::is_isolate() reads this: a start function can tell it runs in a worker.
  globalThis[Symbol.for('wasm-isolates.booted')] = true;
  const post = globalThis.postMessage.bind(globalThis);
  globalThis.postMessage = (message, transfer) => post(message, transfer ?? transferListOf(message));
  start(data).catch((error) => {
    // Uncaught, so that the parent's Worker sees an error event and the console shows it.
    setTimeout(() => { throw error; });
  });
};
async function start({ glueUrl, module, entry }) {
  const glue = await import(glueUrl);
  await glue.default({ module_or_path: module });
  if (typeof glue.__wasm_isolates_gloo_register !== 'function') {
    throw new Error(glueUrl + ' does not export __wasm_isolates_gloo_register (wasm-isolates without its gloo feature?)');
  }
  glue.__wasm_isolates_gloo_register(entry);
}
globalThis.addEventListener('message', boot);
