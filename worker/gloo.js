// wasm-isolates: hosting gloo-worker workers in this module (src/gloo/mod.rs).

// The same test of what can be transferred as the isolates' own messages use (wasm-bindgen copies
// both files into the same snippets folder). The loader embeds these helpers by their source text:
// it runs in a `blob:` worker, which cannot import a relative module.
import { TRANSFERABLE_CLASSES, transferableOf } from './host.js';

// The transfer list for a message encoded by IsolateCodec: its payload and every transferable
// attachment, each once. Empty for anything else (gloo's Bincode messages are copied as before).
function transferListOf(message) {
  if (message === null || typeof message !== 'object' || message.wasmIsolatesGloo !== 1) return [];
  const transfer = new Set();
  if (message.payload instanceof ArrayBuffer) transfer.add(message.payload);
  for (const value of Array.isArray(message.attachments) ? message.attachments : []) {
    const t = transferableOf(value);
    if (t !== null) transfer.add(t);
  }
  return [...transfer];
}

// The worker's script: worker/gloo-loader.js (passed in as text by Rust), after the helpers it uses.
function loaderSource(loaderBody) {
  return [
    `const TRANSFERABLE_CLASSES = ${JSON.stringify(TRANSFERABLE_CLASSES)};`,
    transferableOf.toString(),
    transferListOf.toString(),
    loaderBody,
  ].join('\n');
}

// One loader per thread, kept for the thread's life: every gloo worker it starts may still be
// fetching it.
let loaderUrl = null;

/**
 * Calls `spawn(loaderUrl)` (gloo's spawner), capturing the Worker it constructs, then boots that
 * worker. gloo keeps its Worker private, so the global constructor is swapped for the duration of
 * the synchronous call (JS runs one thing at a time: nothing else sees the swap). A constructor
 * that throws hands gloo an inert stand-in, so gloo's `expect` cannot panic. Returns null on
 * success, else what went wrong.
 */
export function spawnGlooWorker(spawn, module, glueUrl, entry, loaderBody) {
  const Original = globalThis.Worker;
  if (typeof Original !== 'function') return 'this context has no Worker constructor';
  if (loaderUrl === null) {
    loaderUrl = URL.createObjectURL(new Blob([loaderSource(loaderBody)], { type: 'text/javascript' }));
  }
  let worker = null;
  let failure = null;
  const Capturing = function (url, options) {
    try {
      worker = new Original(url, options);
      return worker;
    } catch (error) {
      failure = error;
      return new EventTarget();
    }
  };
  Capturing.prototype = Original.prototype;
  globalThis.Worker = Capturing;
  try {
    spawn(loaderUrl);
  } finally {
    globalThis.Worker = Original;
  }
  if (worker === null) {
    return failure === null
      ? 'gloo-worker did not construct its Worker through globalThis.Worker'
      : `new Worker() threw: ${failure}`;
  }
  const post = worker.postMessage;
  worker.postMessage = function (message, transfer) {
    return post.call(this, message, transfer ?? transferListOf(message));
  };
  post.call(worker, { wasmIsolatesGlooBoot: 1, glueUrl, module, entry });
  return null;
}
