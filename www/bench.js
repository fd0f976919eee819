// The page of `npm run bench`'s comparison suites (rtt, cold, transfer, pool_scaling, throughput,
// memory, typed, js_task, parse_mbps, url): wasm-isolates ("ours": the hidden `__bench*` exports
// of the glue, or for the JS rows the package's own `IsolatePool` and `parseJson`) side by side
// with the raw platform (www/bench-raw-worker.js), Comlink 4 and workerpool 10, in the same page
// and run.
// No inline script, no eval, no blob: workers (served with `worker-src 'self'`).
//
// window.__bench = {
//   ready: Promise<void>,                             // glue initialised, module compiled, peers warm
//   info(): {crossOriginIsolated, hardwareConcurrency, memoryApi, sharedArrayBuffer, userAgent},
//   rtt(subject, calls) -> mean ms per round trip    // subject: ours | raw | comlink | workerpool
//   cold(subject) -> ms                               // ours | raw
//   firstTaskAfterReady() -> ms                       // ours
//   transfer(subject, mode, mb) -> {send_ms, receive_ms}  // ours (transfer) | raw (transfer | copy)
//   poolScaling(tasks, isolates) -> ms                // ours
//   throughput(subject, tasks, isolates) -> ms        // ours | workerpool
//   memory(subject) -> {measurable, bytes?, reason?}  // ours | raw: extra bytes of one idle isolate
//   typed(route, mb) -> {count, total_ms, max_stall_ms, missed_frames, long_tasks, ...}
//                                                     // js | one (compute) | vec (run_vec)
//   jsRtt(subject, calls) -> mean ms per round trip   // ours (IsolatePool.run of bench-task.js) | comlink | workerpool
//   jsThroughput(subject, tasks, isolates) -> ms      // ours (IsolatePool.run) | workerpool
//   parseMbps(kind, mb, runs) -> {bytes, ms: [...]}   // the tape parse alone, in an isolate
//   urlSource(case, path) -> {ms, bytes, records}     // url | fetch-only | parse-only
// }
// Every function measures one run; the harness repeats and takes medians.

import init, * as lib from './pkg/wasm_isolates.js';
import { wrap } from './bench-vendor/comlink.mjs';
import { recordLongTasks, startBusyProbe } from './probe.js';

const RAW_WORKER = new URL('./bench-raw-worker.js', import.meta.url);
const COMLINK_WORKER = new URL('./bench-comlink-worker.js', import.meta.url);
const WORKERPOOL_WORKER = new URL('./bench-workerpool-worker.js', import.meta.url).href;
const TASK_MODULE = new URL('./bench-task.js', import.meta.url);
const MiB = 1024 * 1024;

let wasmModule = null; // compiled once from pkg/wasm_isolates_bg.wasm, posted to raw workers
let nextId = 1;

/**
 * A plain module worker with promise-returning requests. The handler times its own access to
 * `event.data` (where a structured clone is deserialised) before reading anything else.
 */
function rawWorker() {
  const worker = new Worker(RAW_WORKER, { type: 'module', name: 'bench-raw' });
  const pending = new Map();
  const failAll = (err) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.onmessage = (event) => {
    const t0 = performance.now();
    const data = event.data;
    if (data.buffer) void data.buffer.byteLength;
    const receiveMs = performance.now() - t0;
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    if (data.error) p.reject(new Error(data.error));
    else p.resolve({ data, receiveMs });
  };
  worker.onerror = (e) => failAll(new Error(`raw worker error: ${e.message ?? 'failed to load'}`));
  worker.onmessageerror = () => failAll(new Error('raw worker: messageerror'));
  return {
    worker,
    /** Post `msg` (plus an id); resolves with {data, receiveMs}. */
    request(msg, transfer = []) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ ...msg, id }, transfer);
      });
    },
    terminate() {
      worker.terminate();
      failAll(new Error('terminated'));
    },
  };
}

// The warm peers for round trips: created once, warmed up in `ready`.
let raw = null;
let comlinkWorker = null;
let comlink = null;
let wpool = null;

async function warm(fn, times = 20) {
  for (let i = 0; i < times; i++) await fn();
}

async function setup() {
  await init();
  if (typeof lib.__benchRoundTrips !== 'function') {
    throw new Error('www/pkg was built without the cargo feature "bench" (npm run bench builds it; do not pass --no-build after npm start or npm test rebuilt www/pkg)');
  }
  wasmModule = await WebAssembly.compileStreaming(fetch(new URL('./pkg/wasm_isolates_bg.wasm', import.meta.url)));
  document.getElementById('status').textContent = 'ready';
}

// Peers start lazily so that one failing peer only fails its own rows.
async function rawPeer() {
  if (!raw) {
    raw = rawWorker();
    await warm(() => raw.request({ op: 'ping' }));
  }
  return raw;
}
async function comlinkPeer() {
  if (!comlink) {
    comlinkWorker = new Worker(COMLINK_WORKER, { type: 'module', name: 'bench-comlink' });
    comlink = wrap(comlinkWorker);
    await withTimeout(comlink.noop(), 10_000, 'Comlink worker did not answer');
    await warm(() => comlink.noop());
  }
  return comlink;
}
async function workerpoolPeer() {
  if (!wpool) {
    if (typeof globalThis.workerpool?.pool !== 'function') throw new Error('workerpool did not load (bench-vendor/workerpool.js)');
    wpool = globalThis.workerpool.pool(WORKERPOOL_WORKER, { minWorkers: 1, maxWorkers: 1, workerType: 'web' });
    await withTimeout(wpool.exec('noop', []), 10_000, 'workerpool worker did not answer');
    await warm(() => wpool.exec('noop', []));
  }
  return wpool;
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    Promise.resolve(promise).finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]);
}

const sum = (a) => a.reduce((s, x) => s + x, 0);

async function rtt(subject, calls) {
  switch (subject) {
    case 'ours': {
      const per = Array.from(await lib.__benchRoundTrips(calls));
      return sum(per) / per.length;
    }
    case 'raw': {
      const w = await rawPeer();
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) await w.request({ op: 'ping' });
      return (performance.now() - t0) / calls;
    }
    case 'comlink': {
      const c = await comlinkPeer();
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) await c.noop();
      return (performance.now() - t0) / calls;
    }
    case 'workerpool': {
      const p = await workerpoolPeer();
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) await p.exec('noop', []);
      return (performance.now() - t0) / calls;
    }
    default:
      throw new Error(`rtt: unknown subject ${subject}`);
  }
}

async function cold(subject) {
  if (subject === 'ours') return lib.__benchColdStart();
  if (subject !== 'raw') throw new Error(`cold: unknown subject ${subject}`);
  const t0 = performance.now();
  const w = rawWorker();
  try {
    await withTimeout(w.request({ op: 'init', module: wasmModule }), 30_000, 'raw worker did not start');
    return performance.now() - t0;
  } finally {
    w.terminate();
  }
}

async function transfer(subject, mode, mb) {
  if (subject === 'ours') {
    if (mode !== 'transfer') throw new Error('ours always transfers a TransferBuffer');
    const [send, receive] = Array.from(await lib.__benchTransfer(mb));
    return { send_ms: send, receive_ms: receive };
  }
  if (subject !== 'raw') throw new Error(`transfer: unknown subject ${subject}`);
  const w = await rawPeer();
  const buffer = new ArrayBuffer(mb * MiB);
  new Uint8Array(buffer).fill(7); // real pages, not lazily zeroed ones
  const isTransfer = mode === 'transfer';
  const id = nextId++;
  // Like request(), with the send timed around the synchronous postMessage call only.
  const reply = new Promise((resolve, reject) => {
    const prev = w.worker.onmessage;
    w.worker.onmessage = (event) => {
      const t0 = performance.now();
      const data = event.data;
      const length = data.buffer?.byteLength;
      const receiveMs = performance.now() - t0;
      w.worker.onmessage = prev;
      if (data.id !== id || data.error) reject(new Error(data.error ?? 'unexpected reply'));
      else resolve({ receiveMs, length });
    };
  });
  const t0 = performance.now();
  if (isTransfer) w.worker.postMessage({ op: 'echo', id, buffer, transfer: true }, [buffer]);
  else w.worker.postMessage({ op: 'echo', id, buffer, transfer: false });
  const sendMs = performance.now() - t0;
  const detached = buffer.byteLength === 0;
  const { receiveMs, length } = await withTimeout(reply, 30_000, 'raw echo timed out');
  if (length !== mb * MiB) throw new Error(`raw echo came back with ${length} bytes`);
  if (detached !== isTransfer) throw new Error(`sender buffer ${detached ? 'detached' : 'kept'} on ${mode}`);
  return { send_ms: sendMs, receive_ms: receiveMs };
}

async function throughput(subject, tasks, isolates) {
  if (subject === 'ours') return lib.__benchThroughput(tasks, isolates);
  if (subject !== 'workerpool') throw new Error(`throughput: unknown subject ${subject}`);
  if (typeof globalThis.workerpool?.pool !== 'function') throw new Error('workerpool did not load');
  const pool = globalThis.workerpool.pool(WORKERPOOL_WORKER, { minWorkers: isolates, maxWorkers: isolates, workerType: 'web' });
  try {
    // Warm every worker (as ours is `ready` before its clock starts).
    await withTimeout(Promise.all(Array.from({ length: isolates * 4 }, () => pool.exec('noop', []))), 15_000, 'workerpool warm-up timed out');
    const t0 = performance.now();
    await Promise.all(Array.from({ length: tasks }, () => pool.exec('noop', [])));
    return performance.now() - t0;
  } finally {
    await pool.terminate(true);
  }
}

/** Bytes the whole page (workers included) uses, after a collection where `gc` is exposed. */
async function measureBytes() {
  if (typeof globalThis.gc === 'function') globalThis.gc();
  const m = await performance.measureUserAgentSpecificMemory();
  return m.bytes;
}

/** The same, split by breakdown type (e.g. JavaScript, DOM, Shared) and by worker vs window scope. */
async function measureBreakdown() {
  if (typeof globalThis.gc === 'function') globalThis.gc();
  const m = await performance.measureUserAgentSpecificMemory();
  const out = { bytes: m.bytes, workers: 0, byType: {} };
  for (const e of m.breakdown) {
    if (e.attribution.some((a) => a.scope === 'DedicatedWorkerGlobalScope')) out.workers += e.bytes;
    for (const t of e.types) out.byType[t] = (out.byType[t] ?? 0) + e.bytes;
  }
  return out;
}

async function memory(subject) {
  if (!globalThis.crossOriginIsolated) return { measurable: false, reason: 'page is not cross-origin isolated' };
  if (typeof performance.measureUserAgentSpecificMemory !== 'function') {
    return { measurable: false, reason: 'performance.measureUserAgentSpecificMemory is not available in this engine' };
  }
  const before = await measureBytes();
  if (subject === 'ours') {
    const pool = new lib.IsolatePool({ size: 1, prewarm: true });
    try {
      await pool.run(TASK_MODULE, 'noop', [], {});
      await new Promise((r) => setTimeout(r, 100));
      const after = await measureBreakdown();
      return { measurable: true, bytes: after.bytes - before, worker_bytes: after.workers, by_type: after.byType };
    } finally {
      await pool.close();
      pool.free();
    }
  }
  if (subject === 'raw') {
    const w = rawWorker();
    try {
      await withTimeout(w.request({ op: 'init', module: wasmModule }), 30_000, 'raw worker did not start');
      await new Promise((r) => setTimeout(r, 100));
      const after = await measureBreakdown();
      return { measurable: true, bytes: after.bytes - before, worker_bytes: after.workers, by_type: after.byType };
    } finally {
      w.terminate();
    }
  }
  throw new Error(`memory: unknown subject ${subject}`);
}

// ---- typed: the seed's compute(parse_products, body) against the JS route ---------------------
// The body is `{"products": [...]}` of about `mb` megabytes (made once per size, not measured).
// Each run measures the main thread from the call to the last product: total time, the busy
// probe's stalls, rAF gaps over 25 ms, and (Chromium) long tasks.
const bodies = new Map();

function productsBody(mb) {
  if (!bodies.has(mb)) {
    const parts = [];
    let bytes = 14;
    for (let i = 0; bytes < mb * 1e6; i++) {
      const p = `{"id":${i},"name":"Product number ${i} of the catalogue","price":${((i % 10000) * 0.01 + 1).toFixed(2)},"category":"${['tools', 'garden', 'kitchen', 'toys'][i % 4]}"}`;
      parts.push(p);
      bytes += p.length + 1;
    }
    bodies.clear(); // one body at a time: 100 MB strings add up
    bodies.set(mb, `{"products":[${parts.join(',')}]}`);
  }
  return bodies.get(mb);
}

/** Counts rAF intervals over 25 ms from now until `stop()`. */
function recordFrameGaps() {
  let last = null;
  let missed = 0;
  let longest = 0;
  let on = true;
  const frame = (ts) => {
    if (!on) return;
    if (last !== null) {
      const gap = ts - last;
      longest = Math.max(longest, gap);
      if (gap > 25) missed++;
    }
    last = ts;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  return { stop() { on = false; return { missed, longest }; } };
}

async function typed(route, mb) {
  const body = productsBody(mb);
  // The Rust routes start from a Rust String, as the seed's `compute(parse_products, body)` does;
  // the JS-to-Rust conversion is timed apart (a Rust app pays it wherever its text comes from).
  let convertMs = null;
  if (route !== 'js') {
    const c0 = performance.now();
    lib.__benchTypedPrepare(body);
    convertMs = performance.now() - c0;
  }
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const frames = recordFrameGaps();
  const probe = startBusyProbe();
  const longTasks = recordLongTasks();
  const t0 = performance.now();
  let count;
  if (route === 'js') {
    // What a JS page does with the same body: parse, then map to plain records.
    count = JSON.parse(body).products.map((p) => ({ id: p.id, name: p.name, price: p.price, category: p.category })).length;
  } else {
    count = await lib.__benchTyped(route);
  }
  const totalMs = performance.now() - t0;
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const stall = probe.stop();
  const gaps = frames.stop();
  const tasks = longTasks.stop();
  return {
    count,
    convert_ms: convertMs,
    total_ms: totalMs,
    max_stall_ms: stall.maxBlockMs,
    blocked_ms: stall.blockedMs,
    missed_frames: gaps.missed,
    longest_frame_ms: gaps.longest,
    long_tasks: tasks === null ? null : tasks.length,
    longest_task_ms: tasks === null ? null : Math.max(0, ...tasks.map((t) => t.duration)),
  };
}

// ---- a JS task (issue 16): IsolatePool.run of a plain task module --------------------------
let jsPool = null; // ours for js_rtt and the url rows' fetch-only: one warm isolate

async function jsPoolPeer() {
  if (!jsPool) {
    jsPool = new lib.IsolatePool({ size: 1, prewarm: true });
    await withTimeout(jsPool.run(TASK_MODULE, 'noop', []), 30_000, 'the JS IsolatePool did not answer');
    await warm(() => jsPool.run(TASK_MODULE, 'noop', []));
  }
  return jsPool;
}

async function jsRtt(subject, calls) {
  if (subject === 'comlink' || subject === 'workerpool') return rtt(subject, calls);
  if (subject !== 'ours') throw new Error(`jsRtt: unknown subject ${subject}`);
  const pool = await jsPoolPeer();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await pool.run(TASK_MODULE, 'noop', []);
  return (performance.now() - t0) / calls;
}

async function jsThroughput(subject, tasks, isolates) {
  if (subject === 'workerpool') return throughput(subject, tasks, isolates);
  if (subject !== 'ours') throw new Error(`jsThroughput: unknown subject ${subject}`);
  const pool = new lib.IsolatePool({ size: isolates, prewarm: true });
  try {
    // Warm every isolate, task module imported included (as workerpool's warm-up does).
    await withTimeout(Promise.all(Array.from({ length: isolates * 4 }, () => pool.run(TASK_MODULE, 'noop', []))), 30_000, 'IsolatePool warm-up timed out');
    const t0 = performance.now();
    await Promise.all(Array.from({ length: tasks }, () => pool.run(TASK_MODULE, 'noop', [])));
    return performance.now() - t0;
  } finally {
    await pool.close();
    pool.free();
  }
}

// ---- JSON in the isolate (issue 18) ---------------------------------------------------------
async function parseMbps(kind, mb, runs) {
  const [bytes, ...ms] = Array.from(await lib.__benchParseMbps(kind, mb, runs));
  return { bytes, ms };
}

/**
 * One run of a `url` case on the document at `path` (same origin): the milliseconds from the
 * call until the result is usable, and what it saw (bytes; records where something parsed).
 */
async function urlSource(kind, path) {
  const url = new URL(path, location.href);
  globalThis.gc?.(); // Chromium with --expose-gc: every run starts from a collected heap
  switch (kind) {
    case 'url': {
      const t0 = performance.now();
      const doc = await lib.parseJson(url, { mode: 'handle' });
      const ms = performance.now() - t0;
      try {
        return { ms, bytes: doc.byteLength, records: doc.length };
      } finally {
        doc.close();
      }
    }
    case 'fetch-only': {
      const pool = await jsPoolPeer();
      const t0 = performance.now();
      const bytes = await pool.run(TASK_MODULE, 'fetchBytes', [url.href]);
      return { ms: performance.now() - t0, bytes, records: null };
    }
    case 'parse-only': {
      // The bytes are in memory before the clock starts; they move to the isolate by transfer.
      const response = await fetch(url);
      if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
      const buffer = await response.arrayBuffer();
      const t0 = performance.now();
      const doc = await lib.parseJson(buffer, { mode: 'handle' });
      const ms = performance.now() - t0;
      try {
        return { ms, bytes: doc.byteLength, records: doc.length };
      } finally {
        doc.close();
      }
    }
    default:
      throw new Error(`urlSource: unknown case ${kind}`);
  }
}

window.__bench = {
  ready: setup(),
  info: () => ({
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    hardwareConcurrency: navigator.hardwareConcurrency,
    memoryApi: typeof performance.measureUserAgentSpecificMemory === 'function',
    sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    userAgent: navigator.userAgent,
  }),
  rtt,
  cold,
  firstTaskAfterReady: () => lib.__benchFirstTaskAfterReady(),
  transfer,
  poolScaling: (tasks, isolates) => lib.__benchPoolScaling(tasks, isolates),
  throughput,
  memory,
  typed,
  jsRtt,
  jsThroughput,
  parseMbps,
  urlSource,
};
