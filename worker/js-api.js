// wasm-isolates: the JS helpers behind the JS API's isolates, ports, progress and streams
// (src/js/isolate.rs, src/js/port.rs, src/js/stream.rs call these through wasm-bindgen). They
// run on both sides: in the page (finding SendPorts in a message) and in an isolate (loading a
// task module, calling its export, walking a generator). `serve` and `tasksOf` are also the
// public face of the worker option (docs/js.md, "Where a task module can live"): the package
// re-exports `serve` as `wasm-isolates/worker` and `tasksOf` from its entry.

import { startIsolate } from './bootstrap.js';
import { transferableOf } from './host.js';

// ---- The wire (src/wire/message.rs): posting and recognising envelopes ----------------------
// Every message of ours is `[ArrayBuffer starting with "WISO", ...attachments]`. These run on
// every call and reply, on both sides, so each does in one call from Rust what would otherwise
// take a crossing per step.

/**
 * Envelopes up to this many bytes are cloned by `postMessage`, larger ones transferred.
 * Transferring an ArrayBuffer costs more than copying a small one: measured on a tiny round trip
 * (docs/design.md, "The message path"), transfer added about 3 us in Chromium, 15 us in Firefox
 * and 2-7 us in WebKit over a clone, while a clone of 16 KiB copies in about a microsecond. A
 * large envelope (a big input, a batched `run_vec` output) still moves without a copy.
 */
const TRANSFER_ABOVE = 16 * 1024;

/**
 * Posts `[buffer, ...attachments]` on `target`, `buffer` a copy of `bytes` (a view of wasm
 * memory, valid only during this call). Transferable attachments are transferred.
 */
export function postEnvelopeBytes(target, bytes, attachments) {
  postEnvelopeBuffer(target, bytes.slice().buffer, attachments);
}

/** Posts `[buffer, ...attachments]` on `target` (see `postEnvelopeBytes`). */
export function postEnvelopeBuffer(target, buffer, attachments) {
  if (attachments.length === 0) {
    // Nearly every call and reply: no list to build.
    if (buffer.byteLength > TRANSFER_ABOVE) target.postMessage([buffer], [buffer]);
    else target.postMessage([buffer]);
    return;
  }
  const transfer = buffer.byteLength > TRANSFER_ABOVE ? [buffer] : [];
  for (const value of attachments) {
    // Arrays and primitives (a JS task's arguments and most results) are never transferable.
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    const t = transferableOf(value);
    if (t !== null && !transfer.includes(t)) transfer.push(t);
  }
  target.postMessage([buffer, ...attachments], transfer);
}

/** The envelope's ArrayBuffer when `data` is one of our messages, else undefined. */
export function envelopeBuffer(data) {
  if (!Array.isArray(data)) return undefined;
  const buffer = data[0];
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < 4) return undefined;
  const magic = new Uint8Array(buffer, 0, 4);
  return magic[0] === 0x57 && magic[1] === 0x49 && magic[2] === 0x53 && magic[3] === 0x4f ? buffer : undefined;
}

/**
 * Absolute URLs of task modules, by the module as given (a string, or a URL's `href`), for the
 * current base (`location.href`; the map is emptied when it changes, e.g. after
 * `history.pushState`). A pool runs the same few modules over and over, and parsing the URL again
 * on every call was a large share of a tiny task's time on the calling thread.
 */
const resolvedUrls = new Map();
let resolvedBase;
/** How many URLs `resolvedUrls` keeps before it starts over. */
const RESOLVED_URLS_MAX = 64;

/**
 * `module` (a string, or a `URL` or anything with a string `href`) as an absolute URL, resolved
 * against this scope's `location` as `new URL(module, location.href)` would (left as given when
 * it does not parse); undefined when `module` is neither.
 */
export function moduleUrlOf(module) {
  const input = typeof module === 'string' ? module : typeof module?.href === 'string' ? module.href : undefined;
  if (input === undefined) return undefined;
  const base = globalThis.location?.href;
  if (typeof base !== 'string') return input;
  if (base !== resolvedBase || resolvedUrls.size >= RESOLVED_URLS_MAX) {
    resolvedUrls.clear();
    resolvedBase = base;
  }
  let url = resolvedUrls.get(input);
  if (url === undefined) {
    try {
      url = new URL(input, base).href;
    } catch {
      url = input;
    }
    resolvedUrls.set(input, url);
  }
  return url;
}

/**
 * The key of the placeholder that stands for a SendPort inside a message on the wire:
 * `{[PORT_KEY]: i}` is the i-th SendPort of the message. A string key, because the placeholder
 * is structured-cloned (symbols are not).
 */
const PORT_KEY = '__wasmIsolatesSendPort';

/** The brand of a `transfer(value, list)` result. `Symbol.for`, so every copy of this file agrees. */
const TRANSFER = Symbol.for('wasm-isolates.transfer');

/**
 * Marks `value` to travel with the buffers (or other transferables) in `list` moved instead of
 * copied: return it from a pool task, yield it from a stream, or pass it to `SendPort.send`.
 */
export function transfer(value, list) {
  if (!Array.isArray(list)) throw new TypeError('transfer(value, list): list must be an array of transferables');
  return { [TRANSFER]: true, value, list };
}

/** `[value, list]` of a `transfer()` result, or `[value, []]` for anything else. */
export function unwrapTransfer(value) {
  if (value !== null && typeof value === 'object' && value[TRANSFER] === true) return [value.value, value.list];
  return [value, []];
}

/** Whether `value` is a plain container worth walking for SendPorts (not a buffer, a Date, a class instance...). */
function walkable(value) {
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Finds the SendPorts in `value` (plain objects, arrays, Maps and Sets, at any depth) and
 * returns `[skeleton, ids]`: `skeleton` is `value` with each SendPort replaced by a placeholder
 * (containers on the way are copied, never mutated; a value without ports is returned as is), and
 * `ids` are the ports' registry ids in placeholder order. A SendPort is recognised by its hidden
 * method `__wasmIsolatesSendPortId` (src/js/port.rs), so a copy of the class from another module
 * instance still counts.
 */
export function extractPorts(value) {
  const ids = [];
  const seen = new Map();
  const walk = (v) => {
    if (v === null || typeof v !== 'object') return v;
    if (typeof v.__wasmIsolatesSendPortId === 'function') {
      ids.push(v.__wasmIsolatesSendPortId());
      return { [PORT_KEY]: ids.length - 1 };
    }
    if (!walkable(v)) return v;
    if (seen.has(v)) return seen.get(v);
    seen.set(v, v); // a cycle back to `v` keeps the original: ports inside cycles are not supported
    let out = v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const w = walk(v[i]);
        if (w !== v[i]) {
          if (out === v) out = v.slice();
          out[i] = w;
        }
      }
    } else if (v instanceof Map) {
      let changed = false;
      const entries = [];
      for (const [k, x] of v) {
        const [k2, x2] = [walk(k), walk(x)];
        changed ||= k2 !== k || x2 !== x;
        entries.push([k2, x2]);
      }
      if (changed) out = new Map(entries);
    } else if (v instanceof Set) {
      let changed = false;
      const items = [];
      for (const x of v) {
        const x2 = walk(x);
        changed ||= x2 !== x;
        items.push(x2);
      }
      if (changed) out = new Set(items);
    } else {
      for (const k of Object.keys(v)) {
        const w = walk(v[k]);
        if (w !== v[k]) {
          if (out === v) out = { ...v };
          out[k] = w;
        }
      }
    }
    seen.set(v, out);
    return out;
  };
  const skeleton = walk(value);
  return [skeleton, ids];
}

/** The inverse of `extractPorts` on the receiving side: placeholders replaced by `ports[i]` (in place: the skeleton is a fresh clone). */
export function restorePorts(skeleton, ports) {
  const seen = new Set();
  const walk = (v) => {
    if (v === null || typeof v !== 'object') return v;
    if (Object.prototype.hasOwnProperty.call(v, PORT_KEY) && Object.keys(v).length === 1) return ports[v[PORT_KEY]];
    if (!walkable(v) || seen.has(v)) return v;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = walk(v[i]);
    } else if (v instanceof Map) {
      const entries = [...v].map(([k, x]) => [walk(k), walk(x)]);
      v.clear();
      for (const [k, x] of entries) v.set(k, x);
    } else if (v instanceof Set) {
      const items = [...v].map(walk);
      v.clear();
      for (const x of items) v.add(x);
    } else {
      for (const k of Object.keys(v)) v[k] = walk(v[k]);
    }
    return v;
  };
  return walk(skeleton);
}

/**
 * Where `serve(tasks)` keeps the tasks of this worker: on the global object under a
 * `Symbol.for` key, not in a module variable, because a worker may hold two copies of this file
 * (the one the user's worker script imports and the one the glue imports, when a dev server or
 * a pre-bundler serves them under different URLs) and both must see the same tasks.
 */
const REGISTRY = Symbol.for('wasm-isolates.tasks');

/** The brand of a `tasksOf()` handle (`Symbol.for`: every copy of this file agrees). */
const TASKS_HANDLE = Symbol.for('wasm-isolates.tasks-handle');

/**
 * Registers `tasks` (a module namespace, `import * as tasks from './tasks'`, or any object of
 * functions) as the tasks of this worker, and starts the worker as an isolate: the one call a
 * worker script named by the `worker` option of `IsolatePool` or `spawnIsolate` must make.
 * Because that script is an ordinary worker entry (`new Worker(new URL('./tasks.worker.ts',
 * import.meta.url), {type: 'module'})`), the bundler builds it with everything it imports:
 * TypeScript, sibling modules, packages. Calling it again adds tasks (a name given twice keeps
 * the last function).
 */
export function serve(tasks) {
  if (tasks === null || (typeof tasks !== 'object' && typeof tasks !== 'function')) {
    throw new TypeError("serve(tasks): tasks must be an object of functions, e.g. import * as tasks from './tasks'");
  }
  const inWorker = typeof DedicatedWorkerGlobalScope !== 'undefined' && globalThis instanceof DedicatedWorkerGlobalScope;
  if (!inWorker) {
    throw new TypeError("serve(tasks) runs in the worker script that the `worker` option of IsolatePool or spawnIsolate starts, not on the page");
  }
  const registry = (globalThis[REGISTRY] ??= new Map());
  for (const name of Object.keys(tasks)) registry.set(name, tasks[name]);
  startIsolate();
}

/**
 * A handle naming the tasks registered by `serve()` in the worker script of a pool's (or
 * `spawnIsolate`'s) `worker` option: pass it where a module URL goes, `pool.run(tasksOf(),
 * 'sum', [buffer])`. It carries nothing at run time; in TypeScript, `tasksOf<typeof
 * import('./tasks')>()` types the export names, arguments and results.
 */
export function tasksOf() {
  return Object.freeze({ [TASKS_HANDLE]: true });
}

/** Whether `value` is a `tasksOf()` handle. */
export function isTasksHandle(value) {
  return value !== null && typeof value === 'object' && value[TASKS_HANDLE] === true;
}

/** Task `name` as `serve()` registered it in this worker, checked to be a function. */
function registeredExport(name) {
  const registry = globalThis[REGISTRY];
  if (registry === undefined) {
    throw new TypeError(`task "${name}" is not registered: no tasks are registered in this isolate (the script of the \`worker\` option must call serve(tasks) from 'wasm-isolates/worker')`);
  }
  if (!registry.has(name)) {
    const known = [...registry.keys()].map((k) => `"${k}"`).join(', ') || 'nothing';
    throw new TypeError(`task "${name}" is not registered: serve() in the worker registered ${known}`);
  }
  const f = registry.get(name);
  if (typeof f !== 'function') {
    throw new TypeError(`task "${name}" is not a function (serve() registered a ${typeof f})`);
  }
  return f;
}

/**
 * Task modules this isolate has loaded, by URL. `import()` of a URL already loaded gives the same
 * module again, but only after a few turns of the event loop (in Firefox and WebKit a task of
 * its own), on every call; with the namespace at hand a task whose export returns a plain value
 * runs and answers in the task its call arrived in. A module that failed to load is not kept, so
 * the next call tries again, as `import()` would.
 */
const loadedModules = new Map();

/** `module[name]` of a loaded task module, checked to be a function. */
function exportOf(module, url, name) {
  const f = module[name];
  if (typeof f !== 'function') {
    throw new TypeError(`${url} has no exported function "${name}"`);
  }
  return f;
}

/**
 * `(await import(url))[name]`, checked to be a function; with no `url`, task `name` as `serve()`
 * registered it. Dynamic import, not eval: a strict CSP (`script-src 'self'`) allows it for
 * same-origin modules.
 */
export async function loadExport(url, name) {
  if (url === undefined || url === null) return registeredExport(name);
  let module = loadedModules.get(url);
  if (module === undefined) {
    module = await import(/* @vite-ignore */ /* webpackIgnore: true */ url);
    loadedModules.set(url, module);
  }
  return exportOf(module, url, name);
}

/**
 * Starts a pool task: calls `(await import(url))[name](...args, context)` (or the task `serve()`
 * registered, with no `url`). Returns the task's value when the module is loaded and the task
 * returns a plain value, so that it answers at once; otherwise a promise of the value (a task
 * returning a promise or any thenable, or the module's first load). Throws what a synchronous
 * task throws, or a TypeError when there is no such function.
 */
export function startTask(url, name, args, context) {
  let f;
  if (url === undefined || url === null) {
    f = registeredExport(name);
  } else {
    const module = loadedModules.get(url);
    if (module === undefined) {
      return loadExport(url, name).then((g) => g(...args, context));
    }
    f = exportOf(module, url, name);
  }
  const result = f(...args, context);
  if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof result.then === 'function') {
    // A promise, or any thenable: settled as `await` would settle it.
    return Promise.resolve(result);
  }
  return result;
}

/**
 * The `IsolateContext` of every pool task run without `onProgress`, built once per isolate: a
 * frozen object that hands each method to `context` (an `IsolateContext` with no progress port),
 * so that no object is made per call and a task cannot `free()` the one all tasks share.
 */
export function sharedContext(context) {
  return Object.freeze({
    receivePort: () => context.receivePort(),
    reportProgress: (done, total) => context.reportProgress(done, total),
    transfer: (value, list) => context.transfer(value, list),
    shouldStop: () => context.shouldStop(),
    isPaused: () => context.isPaused(),
  });
}

/**
 * Calls `onAbort(reason)` once `signal` aborts (the reason as `abortPromise` in host.js gives
 * it); returns a function that stops listening. An already aborted signal calls it at once.
 */
export function listenForAbort(signal, onAbort) {
  const fire = () => onAbort(signal.reason ?? new DOMException('The operation was aborted.', 'AbortError'));
  if (signal.aborted) {
    fire();
    return () => {};
  }
  signal.addEventListener('abort', fire, { once: true });
  return () => signal.removeEventListener('abort', fire);
}

/** Calls `f(...args)`; a synchronous throw becomes a rejection. */
export async function callFunction(f, args) {
  return await f(...args);
}

/**
 * Reports `error` as an uncaught error of this isolate, synchronously: bootstrap.js's `error`
 * listener posts it to the parent at once, ahead of anything this isolate posts later (the entry's
 * end), on the same channel. A spawned JS entry that throws is an uncaught error in Dart's terms:
 * it goes to the error listeners, and ends the isolate when errors are fatal.
 */
export function reportUncaught(error) {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  globalThis.dispatchEvent(new ErrorEvent('error', { error, message, cancelable: true }));
}

/**
 * The async iterator of what `f(...args)` returns: an async generator (or any async iterable), a
 * sync iterable, or a promise of either. Rejects with a TypeError for anything else.
 */
export async function openIterator(f, args) {
  const result = await f(...args);
  if (result != null && typeof result[Symbol.asyncIterator] === 'function') return result[Symbol.asyncIterator]();
  if (result != null && typeof result[Symbol.iterator] === 'function' && typeof result !== 'string') {
    const it = result[Symbol.iterator]();
    return {
      next: async () => it.next(),
      return: async () => (typeof it.return === 'function' ? it.return() : { done: true }),
    };
  }
  throw new TypeError(`${f.name || 'the export'} did not return an async iterable (write it as an async generator: export async function* ${f.name || 'name'}(...) {...})`);
}

/** Ends an iterator early (runs the generator's `finally` blocks); never rejects. */
export async function closeIterator(it) {
  try {
    if (typeof it.return === 'function') await it.return();
  } catch {
    // The producer's own cleanup failed after the consumer left: no one is listening.
  }
}

/** The iterator's next step; a synchronous throw becomes a rejection. */
export async function iteratorNext(it) {
  return await it.next();
}
