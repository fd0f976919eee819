// The datasets and the five ways of getting a big JSON document into a page, side by side.
//
// Inputs — what each strategy starts from, prepared *before* the measured window:
// - `main-parse` starts from the JSON text as a JS string already on the main thread, and times
//   only `JSON.parse`. That is the fair baseline (design §3): decoding bytes to a string is extra
//   main-thread work the other strategies do not pay, so it is done once when the dataset is
//   generated and kept ready.
// - Every other strategy starts from the UTF-8 bytes (what `fetch().arrayBuffer()` gives an app)
//   in a fresh Uint8Array that is *transferred* — moved, not copied — to the worker or isolate.
//   The copy made for each run (the transfer detaches it) happens before the window too.
//   `input: 'string'` or `'blob'` hands our strategies the string (sent to the isolate in slices)
//   or a Blob instead.
//
// Checks — `verify: true` compares each strategy's result with JSON.parse of the same text on the
// main thread (computed once per dataset, outside any measured window): the record count, the
// exact sum of each numeric column, and a few whole records (deep-equal) at fixed indices.

import { generateDataset, parseJson } from './pkg/wasm_isolates.js';

export const DEFAULT_SEED = 42;
export const PAGE_SIZE = 50;

/** Per dataset kind: the numeric fields our `columns` strategy selects and the scatter's axes. */
export const KINDS = {
  points: { fields: ['lat', 'lon', 'speed'], x: 'lon', y: 'lat' },
  products: { fields: ['price', 'dimensions/w'], x: 'price', y: 'dimensions/w' },
};
export const SIZES_MB = [1, 10, 50, 100];
export const STRATEGY_NAMES = ['main-parse', 'worker-clone', 'handle', 'columns', 'objects'];

// ---------------------------------------------------------------------------------------------
// Datasets: one at a time (a 100 MB document is held as bytes and as a string).

let current = null;

/**
 * The dataset `kind` of about `mb` MB, generated in an isolate with a fixed seed (the same bytes
 * every time), or the one already held.
 */
export async function getDataset(kind, mb, seed = DEFAULT_SEED) {
  if (!Object.hasOwn(KINDS, kind)) throw new TypeError(`dataset kind must be one of ${Object.keys(KINDS).join(', ')}, got ${String(kind)}`);
  mb = Number(mb);
  if (!(mb > 0 && mb <= 512)) throw new RangeError(`dataset size must be in (0, 512] MB, got ${mb}`);
  if (current && current.kind === kind && current.mb === mb && current.seed === seed) return current;
  current = null; // let the previous one go before making the next
  const t0 = performance.now();
  const bytes = await generateDataset(kind, mb, seed);
  const generateMs = performance.now() - t0;
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`generateDataset returned ${Object.prototype.toString.call(bytes)}, expected a Uint8Array`);
  current = { kind, mb, seed, bytes, generateMs, text: null, reference: null };
  return current;
}

/** The dataset's text as a string (decoded once, outside any measurement). */
export function textOf(ds) {
  ds.text ??= new TextDecoder().decode(ds.bytes);
  return ds.text;
}

/** What a dataset looks like, for the page and the tests. */
export function datasetInfo(ds) {
  return {
    kind: ds.kind,
    mb: ds.mb,
    seed: ds.seed,
    byteLength: ds.bytes.byteLength,
    generateMs: Math.round(ds.generateMs * 10) / 10,
    records: ds.reference?.count ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// The plain worker used by `worker-clone` (started once and warmed up, like our pooled isolates).

let plainWorker = null;
let nextId = 1;
const pending = new Map();

function startPlainWorker() {
  const worker = new Worker(new URL('./plain-worker.js', import.meta.url), { type: 'module', name: 'plain-json-worker' });
  worker.onmessage = (event) => {
    // Reading event.data is where the browser deserializes the clone: on the main thread, here.
    const { id, value, error, pong } = event.data;
    const waiter = pending.get(id);
    if (!waiter) return;
    pending.delete(id);
    if (error) waiter.reject(Object.assign(new Error(error.message), { name: error.name }));
    else waiter.resolve(pong ? true : value);
  };
  worker.onerror = (event) => {
    const err = new Error(`plain worker failed: ${event.message || 'error event'}`);
    for (const waiter of pending.values()) waiter.reject(err);
    pending.clear();
  };
  return worker;
}

function callPlainWorker(message, transfer = []) {
  plainWorker ??= startPlainWorker();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    plainWorker.postMessage({ ...message, id }, transfer);
  });
}

/** Keeps the plain worker's thread busy for `ms` (the bench's control: a core busy, no main-thread work). */
export function spinPlainWorker(ms) {
  return callPlainWorker({ spin: ms });
}

/** Starts the plain worker and waits for its first answer (so no run pays its start-up). */
export function warmPlainWorker() {
  return callPlainWorker({ ping: true });
}

// ---------------------------------------------------------------------------------------------
// Strategies: prepare(ds, options) → input (not measured); run(input) → result (measured);
// check(result) → {count, sums, samples} for verification (not measured).

function prepareBytes(ds, options) {
  switch (options.input ?? 'bytes') {
    case 'bytes': return ds.bytes.slice(); // a fresh buffer: the transfer detaches it
    case 'string': return textOf(ds);
    case 'blob': return new Blob([ds.bytes], { type: 'application/json' });
    default: throw new TypeError(`input must be 'bytes', 'string' or 'blob', got ${String(options.input)}`);
  }
}

export const STRATEGIES = {
  'main-parse': {
    label: 'main thread',
    describe: 'JSON.parse of a string already on the main thread',
    prepare: (ds) => textOf(ds),
    run: (text) => JSON.parse(text),
    check: (array, ds) => checkArray(array, ds),
  },
  'worker-clone': {
    label: 'plain worker',
    describe: 'a plain worker parses the transferred bytes and posts the object back',
    prepare: async (ds, options) => {
      await warmPlainWorker();
      const input = options.input === 'string' ? textOf(ds) : ds.bytes.slice();
      return input;
    },
    run: (input) => (typeof input === 'string'
      ? callPlainWorker({ text: input })
      : callPlainWorker({ bytes: input }, [input.buffer])),
    check: (array, ds) => checkArray(array, ds),
  },
  handle: {
    label: 'isolate: handle',
    describe: `parse in an isolate, keep the document there; ask for its length and a page of ${PAGE_SIZE} records`,
    prepare: prepareBytes,
    run: async (input, options) => {
      const doc = await parseJson(input, { mode: 'handle', signal: options.signal });
      const length = await doc.len('');
      const page = await doc.slice('', 0, PAGE_SIZE);
      return { doc, length, page };
    },
    check: async ({ doc, length, page }, ds) => {
      const { fields } = KINDS[ds.kind];
      const samples = [];
      for (const index of sampleIndices(length)) {
        samples.push({ index, value: index < page.length ? page[index] : await doc.get(`/${index}`) });
      }
      // The sums come from the document too: select() is what `columns` mode does in one step.
      const selected = await doc.select('', fields);
      return { count: length, pageLength: page.length, sums: columnSums(selected, fields), samples };
    },
    // After the run (and the check): the isolate lets the document go.
    release: ({ doc }) => doc.close(),
  },
  columns: {
    label: 'isolate: columns',
    describe: 'parse in an isolate; numeric fields come back as transferred Float64Arrays',
    prepare: prepareBytes,
    run: (input, options) => parseJson(input, { mode: 'columns', fields: options.fields, signal: options.signal }),
    check: (result, ds) => {
      const { fields } = KINDS[ds.kind];
      const samples = sampleIndices(result.length).map((index) => ({
        index,
        value: Object.fromEntries(fields.map((f) => [f, columnValue(result.columns[f], index)])),
      }));
      return { count: result.length, sums: columnSums(result, fields), samples, partial: true };
    },
  },
  objects: {
    label: 'isolate: objects',
    describe: 'parse in an isolate; JS objects arrive in slices that fit a frame',
    prepare: prepareBytes,
    run: (input, options) => parseJson(input, {
      mode: 'objects',
      budgetMs: options.budgetMs,
      onProgress: options.onProgress,
      signal: options.signal,
    }),
    check: (array, ds) => checkArray(array, ds),
  },
};

// ---------------------------------------------------------------------------------------------
// Verification against JSON.parse

/** Field path 'a/b' (JSON-pointer style, without the leading slash) → value in a record. */
export function fieldValue(record, path) {
  let v = record;
  for (const part of path.split('/')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return v;
}

function sampleIndices(count) {
  const set = new Set([0, 1, PAGE_SIZE - 1, Math.floor(count / 2), count - 1]);
  return [...set].filter((i) => i >= 0 && i < count).sort((a, b) => a - b);
}

function arraySums(array, fields) {
  const sums = {};
  for (const f of fields) {
    let s = 0;
    for (let i = 0; i < array.length; i++) {
      const v = fieldValue(array[i], f);
      if (typeof v === 'number') s += v;
    }
    sums[f] = s;
  }
  return sums;
}

function columnValue(column, index) {
  if (column instanceof Float64Array) return Number.isNaN(column[index]) ? null : column[index];
  return column === null || column === undefined ? null : `(${column.kind} column)`;
}

function columnSums(result, fields) {
  const sums = {};
  for (const f of fields) {
    const column = result.columns?.[f];
    if (!(column instanceof Float64Array)) {
      sums[f] = `not a Float64Array: ${column === null ? 'null' : Object.prototype.toString.call(column)}`;
      continue;
    }
    let s = 0;
    for (let i = 0; i < column.length; i++) if (!Number.isNaN(column[i])) s += column[i];
    sums[f] = s;
  }
  return sums;
}

function checkArray(array, ds) {
  if (!Array.isArray(array)) return { count: -1, sums: {}, samples: [], problem: `not an array: ${Object.prototype.toString.call(array)}` };
  const { fields } = KINDS[ds.kind];
  return {
    count: array.length,
    sums: arraySums(array, fields),
    samples: sampleIndices(array.length).map((index) => ({ index, value: array[index] })),
  };
}

/** JSON.parse's view of the dataset: count, sums and the records at every index any check samples. */
export function reference(ds) {
  if (!ds.reference) {
    const array = JSON.parse(textOf(ds));
    const { fields } = KINDS[ds.kind];
    const records = new Map();
    for (let i = 0; i < Math.min(PAGE_SIZE, array.length); i++) records.set(i, array[i]);
    for (const i of sampleIndices(array.length)) records.set(i, array[i]);
    ds.reference = { count: array.length, sums: arraySums(array, fields), records };
  }
  return ds.reference;
}

/**
 * Deep equality of JSON values, like `assert.deepStrictEqual`: numbers by Object.is (so -0 and
 * NaN are told apart), object keys in any order. Key order is checked apart (sameKeyOrder).
 */
export function jsonEqual(a, b) {
  if (typeof a !== typeof b) return false;
  if (a === null || b === null || typeof a !== 'object') return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

/** Whether every object in `a` lists its keys in the same order as its twin in `b`. */
export function sameKeyOrder(a, b) {
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return true;
  if (Array.isArray(a)) return a.every((v, i) => sameKeyOrder(v, b?.[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameKeyOrder(a[k], b[k]));
}

/**
 * Compares a strategy's `check` output with the reference. Returns `{ok, problems, notes, count,
 * expectedCount, sums, expectedSums, keyOrder, samples: [{index, actual, expected, equal}]}`.
 * `keyOrder` is 'same' when every sampled record lists its keys in JSON.parse's order, else
 * 'differs' (a note, not a failure: deep equality ignores key order); `keyOrderDiffers` lists the
 * records that differ.
 */
export function verify(checked, ds) {
  const ref = reference(ds);
  const { fields } = KINDS[ds.kind];
  const problems = [];
  if (checked.problem) problems.push(checked.problem);
  if (checked.count !== ref.count) problems.push(`count ${checked.count}, JSON.parse ${ref.count}`);
  if (checked.pageLength !== undefined && checked.pageLength !== Math.min(PAGE_SIZE, ref.count)) {
    problems.push(`page of ${checked.pageLength} records, expected ${Math.min(PAGE_SIZE, ref.count)}`);
  }
  for (const f of fields) {
    if (!Object.is(checked.sums[f], ref.sums[f])) problems.push(`sum of ${f}: ${checked.sums[f]}, JSON.parse ${ref.sums[f]}`);
  }
  const keyOrderDiffers = [];
  const samples = checked.samples.map(({ index, value }) => {
    const record = ref.records.get(index);
    // `columns` returns only the selected fields of a record: compare those.
    const expected = checked.partial
      ? Object.fromEntries(fields.map((f) => [f, fieldValue(record, f) ?? null]))
      : record;
    const equal = jsonEqual(value, expected);
    if (!equal) problems.push(`record ${index} differs: ${JSON.stringify(value)} vs JSON.parse ${JSON.stringify(expected)}`);
    else if (!sameKeyOrder(value, expected)) keyOrderDiffers.push(index);
    return { index, actual: value, expected, equal };
  });
  const keyOrder = keyOrderDiffers.length === 0 ? 'same' : 'differs';
  const notes = keyOrderDiffers.length === 0 ? []
    : [`object keys come in another order than JSON.parse gives them (records ${keyOrderDiffers.join(', ')})`];
  return {
    ok: problems.length === 0,
    problems,
    notes,
    keyOrder,
    keyOrderDiffers,
    count: checked.count,
    expectedCount: ref.count,
    sums: checked.sums,
    expectedSums: ref.sums,
    samples,
  };
}
