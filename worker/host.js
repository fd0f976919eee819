// wasm-isolates host helpers: what the *parent* of an isolate needs from JS. Rust calls these
// through wasm-bindgen; each is a browser API wasm-bindgen cannot express directly.

/** What a value is, for an error message. */
function kind(value) {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (typeof value.then === 'function') return 'a Promise (the factory must return the Worker itself, synchronously)';
  return value.constructor?.name ?? 'object';
}

/**
 * A worker made by a user's factory. A Worker is checked by its methods, not `instanceof`: a
 * wrapped `Worker` constructor (the wasm-bindgen test runner's) makes workers of the original
 * class. If the worker does not say hello (worker/bootstrap.js, step 1) within `startTimeout`,
 * its script does not run `serve()`: the parent is told through the worker's `error` event,
 * which fails its start (IsolateStartError) as a script that does not load does, instead of
 * waiting for ever.
 */
function createFromFactory(factory, startTimeout, name) {
  let worker;
  try {
    worker = factory({ name });
  } catch (error) {
    const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`the worker option threw (${what})`);
  }
  const workerLike = worker !== null && typeof worker === 'object'
    && typeof worker.postMessage === 'function' && typeof worker.terminate === 'function'
    && typeof worker.addEventListener === 'function';
  if (!workerLike) {
    throw new TypeError(`the worker option must return a Worker (new Worker(new URL('./tasks.worker.js', import.meta.url), {type: 'module'})), not ${kind(worker)}`);
  }
  const onHello = (event) => {
    if (event.data?.wasmIsolatesHello !== undefined) settle();
  };
  const timer = setTimeout(() => {
    settle();
    // A worker the parent already retired has no handler left: nothing to tell.
    if (typeof worker.onerror !== 'function') return;
    const message = `the worker from the worker option did not start within ${startTimeout} ms: `
      + "its script must call serve(tasks) from 'wasm-isolates/worker'";
    worker.dispatchEvent(new ErrorEvent('error', { message, cancelable: true }));
  }, startTimeout);
  const settle = () => {
    clearTimeout(timer);
    worker.removeEventListener('message', onHello);
    worker.removeEventListener('error', settle);
  };
  worker.addEventListener('message', onHello);
  // A script that fails to load reports that itself.
  worker.addEventListener('error', settle);
  return worker;
}

/**
 * Creates an isolate's worker. The literal `new Worker(new URL('./bootstrap.js', import.meta.url),
 * {type: 'module'})` form is the one bundlers (webpack 5, Vite, Parcel) recognise and rewrite, so
 * the worker script is found after bundling. `name` marks the worker as an isolate for
 * bootstrap.js and shows up in devtools. With `factory` (the JS `worker` option: the pool or
 * isolate that has one passes it with every start), the factory makes the worker instead, and
 * it has `startTimeout` ms to start the isolate protocol.
 */
export function createIsolateWorker(name, factory, startTimeout) {
  if (typeof factory === 'function') return createFromFactory(factory, startTimeout, name);
  return new Worker(new URL('./bootstrap.js', import.meta.url), { type: 'module', name });
}

let moduleWorkers;
/**
 * Whether `new Worker(url, {type: 'module'})` is supported. Browsers read the `type` option while
 * converting the options dictionary, before they parse the URL, so a getter tells us; an
 * unparsable URL then makes the constructor throw at once, and no worker is started. (A real URL
 * such as about:blank starts a worker that fails later: Firefox reports that as a page error.)
 */
export function supportsModuleWorkers() {
  if (moduleWorkers !== undefined) {
    return moduleWorkers;
  }
  moduleWorkers = false;
  if (typeof Worker !== 'function') {
    return moduleWorkers;
  }
  let asked = false;
  const options = {
    get type() {
      asked = true;
      moduleWorkers = true;
      return 'module';
    },
  };
  try {
    new Worker('http://[', options).terminate();
  } catch {
    // Expected: the URL does not parse.
  }
  if (!asked) {
    // A wrapped Worker constructor (the wasm-bindgen test runner's) parses the URL before it
    // reads the options: probe with a URL that parses, and silence the worker's failure.
    try {
      const probe = new Worker('about:blank', options);
      probe.onerror = (event) => event.preventDefault();
      probe.terminate();
    } catch {
      // The getter has run by now, or module workers are unsupported.
    }
  }
  return moduleWorkers;
}

/**
 * Calls `onDeath()` once the worker holding the Web Lock `lockName` is gone. Returns a function
 * that stops watching (used when the parent retires the worker itself), or null where Web Locks
 * are unavailable (insecure contexts).
 */
export function watchForDeath(lockName, onDeath) {
  const locks = globalThis.navigator?.locks;
  if (!locks) {
    return null;
  }
  const controller = new AbortController();
  locks
    .request(lockName, { signal: controller.signal }, () => {
      if (!controller.signal.aborted) {
        onDeath();
      }
    })
    .catch(() => {
      // AbortError after stopWatching(): expected.
    });
  return () => controller.abort();
}

/** The global scope's kind: "window", "dedicated-worker", "shared-worker", "service-worker" or "other". */
export function globalContext() {
  if (typeof Window !== 'undefined' && globalThis instanceof Window) return 'window';
  if (typeof DedicatedWorkerGlobalScope !== 'undefined' && globalThis instanceof DedicatedWorkerGlobalScope) return 'dedicated-worker';
  if (typeof SharedWorkerGlobalScope !== 'undefined' && globalThis instanceof SharedWorkerGlobalScope) return 'shared-worker';
  if (typeof ServiceWorkerGlobalScope !== 'undefined' && globalThis instanceof ServiceWorkerGlobalScope) return 'service-worker';
  return 'other';
}

/**
 * Posts a wasm-isolates message `[buffer, ...attachments]` on `port`, transferring `buffer` and
 * every transferable attachment (each at most once: a buffer listed twice is a DataCloneError).
 * Views over a SharedArrayBuffer are shared, not transferred; other values are cloned.
 */
export function postEnvelope(port, buffer, attachments) {
  const transfer = new Set([buffer]);
  for (const value of attachments) {
    const t = transferableOf(value);
    if (t !== null) transfer.add(t);
  }
  port.postMessage([buffer, ...attachments], [...transfer]);
}

/** Classes whose instances move by transfer (worker/gloo.js embeds this list in the gloo loader). */
export const TRANSFERABLE_CLASSES = [
  'MessagePort', 'ImageBitmap', 'OffscreenCanvas', 'ReadableStream', 'WritableStream',
  'TransformStream', 'VideoFrame', 'AudioData', 'RTCDataChannel', 'MediaSourceHandle',
];

/**
 * What to put in a transfer list for `value`: its buffer, itself, or null (cloned). Embedded in
 * the gloo loader (worker/gloo.js) by its source text, so it uses nothing but TRANSFERABLE_CLASSES.
 */
export function transferableOf(value) {
  if (value instanceof ArrayBuffer) return value;
  if (ArrayBuffer.isView(value)) return value.buffer instanceof ArrayBuffer ? value.buffer : null;
  for (const name of TRANSFERABLE_CLASSES) {
    const C = globalThis[name];
    if (typeof C === 'function' && value instanceof C) return value;
  }
  return null;
}

/** setTimeout in any global scope (window or worker). */
export function startTimer(ms, callback) {
  return setTimeout(callback, ms);
}

/** clearTimeout in any global scope. */
export function stopTimer(id) {
  clearTimeout(id);
}

/**
 * A control block shared between a parent and one isolate: an Int32Array over a
 * SharedArrayBuffer, or null where SharedArrayBuffer is unavailable (page not cross-origin
 * isolated). Layout: see src/wire/control.rs.
 */
export function newControlBlock(words) {
  if (typeof SharedArrayBuffer !== 'function') return null;
  return new Int32Array(new SharedArrayBuffer(words * 4));
}

/** The bytes behind a URL, fetched from whatever scope calls it (an isolate, for the JSON service). */
export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`GET ${url}: HTTP ${response.status} ${response.statusText}`);
  }
  return await response.arrayBuffer();
}

/** The bytes of a Blob (in an isolate: no cost to the page). */
export async function blobBytes(blob) {
  return await blob.arrayBuffer();
}

/** performance.now() in any scope. */
export function now() {
  return performance.now();
}

/**
 * Resolves on a fresh macrotask (a MessageChannel round, not setTimeout, which browsers clamp to
 * 4 ms when nested), so a loop that awaits it between slices lets the page render frames.
 */
export function nextMacrotask() {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/** A promise rejected with the signal's reason once `signal` aborts (never settles otherwise). */
export function abortPromise(signal) {
  return new Promise((_, reject) => {
    const fail = () => reject(signal.reason ?? new DOMException('The operation was aborted.', 'AbortError'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/**
 * Runs `export name` of the ES module at `url` with `args` (in an isolate: the JS pool's task).
 * Dynamic import, not eval: a strict CSP (`script-src 'self'`) allows it for same-origin modules.
 */
export async function callModuleExport(url, name, args) {
  const module = await import(/* @vite-ignore */ /* webpackIgnore: true */ url);
  const f = module[name];
  if (typeof f !== 'function') {
    throw new TypeError(`${url} has no exported function "${name}"`);
  }
  return await f(...(args ?? []));
}

/** `{name, message, stack}` of anything thrown, so it survives the trip to the caller. */
export function describeError(error) {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack ?? '' };
  }
  return { name: 'Error', message: String(error), stack: '' };
}
