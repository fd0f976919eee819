// wasm-isolates worker bootstrap: the first code each isolate's Web Worker runs.
//
// The parent creates the worker from this file with a name starting "wasm-isolates". This file is
// also a wasm-bindgen snippet (so it is copied next to the glue), which means the glue imports it
// in every context; it therefore acts only in a dedicated worker carrying our name, and only once
// per worker (the same file may be reached under two URLs when a bundler copies it).
//
// Start-up, in order:
//   1. worker -> parent: {wasmIsolatesHello}. The worker speaks first, so no handshake can be
//      posted before a listener exists (a module worker loaded through a wrapper that awaits
//      `import()` — as the wasm-bindgen test runner does — would otherwise drop it).
//   2. parent -> worker: {wasmIsolates: 1, module, glueUrl, glueUrlGiven, lockName, control,
//      maxMessageBytes}. The compiled WebAssembly.Module travels by structured clone; the .wasm
//      is never fetched again.
//   3. The worker takes the death-watch lock, bridges `error`/`unhandledrejection`/`close()` to
//      its parent, imports the glue (see `importGlue`), instantiates the module with its own
//      memory and starts the Rust dispatcher.
//   4. worker -> parent: {wasmIsolatesEvent: "ready"}.
//
// Everything — these steps, then calls and replies — travels on the worker's own channel
// (`postMessage` both ways), never a private MessagePort: Firefox copies an ArrayBuffer
// transferred through a MessagePort, and one channel keeps a panic's report ahead of the trap it
// causes (src/parent/worker.rs, `IsolateWorker::post`). Both sides listen with
// `addEventListener` and skip what is not theirs, so user code in the worker may set `onmessage`
// (https://github.com/paberr/wasmworker/pull/25).

const BOOTED = Symbol.for('wasm-isolates.booted');
const PROTOCOL = 1;

/** True inside a worker that this bootstrap started as an isolate. */
export function isIsolate() {
  return globalThis[BOOTED] === true;
}

function describe(error) {
  if (error instanceof Error) {
    return { message: `${error.name}: ${error.message}`, stack: error.stack ?? null };
  }
  return { message: String(error), stack: null };
}

/**
 * True when the glue at `glueUrl` is a module of its own with this file among its snippets, as
 * wasm-bindgen and wasm-pack lay them out (`<dir>/x.js` and `<dir>/snippets/.../bootstrap.js`):
 * served as files, by the wasm-bindgen test runner, or by a bundler's dev server. False when a
 * bundler folded the glue into an app chunk (Vite and Rollup builds: `glueUrl` is the chunk's URL)
 * or replaced `import.meta.url` at build time (webpack 5: a `file:` URL). Importing an app chunk
 * in a worker would run the app, so then the glue must come from `importBundledGlue`.
 */
function glueIsStandalone(glueUrl) {
  try {
    const glue = new URL(glueUrl);
    return (glue.protocol === 'http:' || glue.protocol === 'https:') && import.meta.url.startsWith(new URL('snippets/', glue).href);
  } catch {
    return false;
  }
}

/**
 * The glue as the bundler packed it into this worker's chunk. The specifier is a literal so that
 * bundlers follow it when they build the worker from `new Worker(new URL('./bootstrap.js',
 * import.meta.url))`: from `pkg/snippets/<crate>-<hash>/worker/bootstrap.js` it names
 * `pkg/wasm_isolates.js`, the glue of this package (npm or `wasm-pack build`). The same idea as
 * wasm-bindgen-rayon's `import('../../..')` (https://github.com/RReverser/wasm-bindgen-rayon),
 * spelled as a file because webpack resolves `import()` in a `"type": "module"` package as fully
 * specified (no directory lookups).
 */
function importBundledGlue() {
  return import('../../../wasm_isolates.js');
}

async function importGlue(glueUrl, given) {
  if (given || glueIsStandalone(glueUrl)) {
    // A URL known only at run time: tell bundlers to leave this import to the browser.
    return import(/* @vite-ignore */ /* webpackIgnore: true */ glueUrl);
  }
  return importBundledGlue();
}

async function start({ module, glueUrl, glueUrlGiven, lockName, control, maxMessageBytes }) {
  // Events go on the worker's own channel, like the dispatcher's replies, so that a panic's
  // report (sent by the Rust panic hook) and the trap that follows arrive in that order.
  const report = (kind, error) => {
    try {
      globalThis.postMessage({ wasmIsolatesEvent: kind, ...describe(error) });
    } catch {
      // The worker can be torn down while it reports; nothing left to tell.
    }
  };

  // An uncaught error or unhandled rejection means the instance may be inconsistent (a wasm trap
  // surfaces as one). Report it to the parent; preventDefault keeps it from also reaching the
  // parent's `error` event, which would double-report. Unhandled rejections never reach the
  // parent on their own, hence the bridge.
  globalThis.addEventListener('error', (event) => {
    event.preventDefault();
    report('error', event.error ?? event.message);
  });
  globalThis.addEventListener('unhandledrejection', (event) => {
    event.preventDefault();
    report('unhandledrejection', event.reason);
  });
  // Death watch: hold a Web Lock for the worker's whole life. The parent queues a request for the
  // same lock, granted only when this worker is gone (close(), crash, OOM, terminate), which is
  // the one signal browsers give for a dead worker. Web Locks need a secure context; elsewhere we
  // can at least report close(), since a worker that closes itself sends its parent no event.
  if (lockName && globalThis.navigator?.locks) {
    await new Promise((held) => {
      globalThis.navigator.locks.request(lockName, () => {
        held();
        return new Promise(() => {});
      });
    });
  } else {
    const close = globalThis.close.bind(globalThis);
    globalThis.close = () => {
      report('close', 'the worker called close()');
      close();
    };
  }

  let glue;
  try {
    glue = await importGlue(glueUrl, glueUrlGiven === true);
    // Runs the crate's #[wasm_bindgen(start)] function too, as in every instance.
    await glue.default({ module_or_path: module });
    if (typeof glue.__wasm_isolates_worker_main !== 'function') {
      throw new Error(`${glueUrl} does not export __wasm_isolates_worker_main`);
    }
    glue.__wasm_isolates_worker_main(control ?? null, maxMessageBytes ?? 0x40000000);
  } catch (error) {
    report('start-failed', error);
    return;
  }
  globalThis.postMessage({ wasmIsolatesEvent: 'ready' });
}

function boot() {
  globalThis[BOOTED] = true;
  const onHandshake = (event) => {
    const data = event.data;
    if (!data || data.wasmIsolates !== PROTOCOL) {
      return;
    }
    globalThis.removeEventListener('message', onHandshake);
    start(data).catch((error) => {
      // start() reports its own failures; this only guards against a bug in it.
      console.error('wasm-isolates bootstrap failed', error);
    });
  };
  globalThis.addEventListener('message', onHandshake);
  globalThis.postMessage({ wasmIsolatesHello: PROTOCOL });
}

/**
 * Starts this worker as an isolate (once): what `serve()` (worker/js-api.js) calls in a worker
 * script of the user's, made by the pool's `worker` option. Such a worker is not created from
 * this file and need not carry our name, so the automatic start below may not happen; this is
 * the explicit one. It speaks first, as `boot` always does, so the parent's handshake follows.
 */
export function startIsolate() {
  if (globalThis[BOOTED] !== true) {
    boot();
  }
}

const inNamedDedicatedWorker =
  typeof DedicatedWorkerGlobalScope !== 'undefined' &&
  globalThis instanceof DedicatedWorkerGlobalScope &&
  typeof globalThis.name === 'string' &&
  globalThis.name.startsWith('wasm-isolates');

if (inNamedDedicatedWorker && globalThis[BOOTED] !== true) {
  boot();
}
