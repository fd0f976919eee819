// wasm-isolates' JS error classes. Rust builds every error the JS API rejects with through
// `createIsolateError` (src/js/mod.rs), so `error instanceof IsolateTaskError` works as well as
// `error.name === 'IsolateTaskError'`.
//
// The classes are importable from the npm package's entry (`import { JsonError } from
// 'wasm-isolates'`: pkg/index.js, written by scripts/build.mjs, re-exports them from here).
// wasm-bindgen cannot re-export a snippet's exports from its glue, so a consumer of the bare glue
// (`pkg/wasm_isolates.js`, or wasm-pack's output, which has no index.js) gets the same objects but
// cannot name the classes: it tells errors apart by `name`, which is the same either way.
//
// Each error keeps the shape it had before these classes existed: an own `name`, the message,
// the stack of where it was made, and its extra fields as own properties (`cause` only when
// there is one). Aborts are not among the classes: see `createIsolateError`.

/** Gives `cls.prototype` a `name` (non-enumerable, like `Error.prototype.name`). */
function named(cls, name) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, enumerable: false, configurable: true });
  return cls;
}

/**
 * The base class of every wasm-isolates error. Used as is for the errors without a class of
 * their own (a closed pool or document, a full queue, a call before `init()`).
 */
export class IsolateError extends Error {
  /**
   * @param {string} [message]
   * @param {{cause?: unknown}} [options] `cause` becomes an own property, as it was before.
   */
  constructor(message, options) {
    super(message);
    // An own `name`, as `error.name = ...` gave before; the prototype's keeps `stack` right.
    this.name = new.target.prototype.name;
    if (options != null && options.cause !== undefined) {
      this.cause = options.cause;
    }
  }
}
named(IsolateError, 'IsolateError');

/** A task panicked; `location` is `file:line:column` (or null). Its isolate was replaced. */
export class IsolatePanicError extends IsolateError {
  /** @param {string} [message] @param {{location?: string | null, cause?: unknown}} [options] */
  constructor(message, options) {
    super(message, options);
    this.location = options?.location ?? null;
  }
}
named(IsolatePanicError, 'IsolatePanicError');

/**
 * The isolate's worker died or raised an uncaught error while the task ran. `cause`, when
 * present, is the isolate's own JS stack (a string).
 */
export class IsolateWorkerError extends IsolateError {}
named(IsolateWorkerError, 'IsolateWorkerError');

/** An isolate could not start (its script or the glue did not load, or instantiation failed). */
export class IsolateStartError extends IsolateError {}
named(IsolateStartError, 'IsolateStartError');

/** A value could not be encoded or decoded, or a message was malformed. */
export class IsolateDataError extends IsolateError {}
named(IsolateDataError, 'IsolateDataError');

/**
 * Malformed JSON (`offset` in bytes, 1-based `line` and `column`), or a JSON pointer naming no
 * value of the right kind (the three fields null then).
 */
export class JsonError extends IsolateError {
  /** @param {string} [message] @param {{offset?: number | null, byteOffset?: number | null, line?: number | null, column?: number | null, cause?: unknown}} [options] */
  constructor(message, options) {
    super(message, options);
    this.offset = options?.offset ?? null;
    this.byteOffset = options?.byteOffset ?? null;
    this.line = options?.line ?? null;
    this.column = options?.column ?? null;
  }
}
named(JsonError, 'JsonError');

/** The host lacks what the call needs (module workers, `SharedArrayBuffer`, ...). */
export class IsolateUnsupportedError extends IsolateError {}
named(IsolateUnsupportedError, 'IsolateUnsupportedError');

/** The task ran past its timeout; its worker was stopped. */
export class IsolateTimeoutError extends IsolateError {}
named(IsolateTimeoutError, 'IsolateTimeoutError');

/**
 * A JS task threw (or its module or export could not be loaded). `cause` is the task's own
 * error as thrown in the isolate: its `name`, `message` and `stack`.
 */
export class IsolateTaskError extends IsolateError {}
named(IsolateTaskError, 'IsolateTaskError');

const CLASSES = {
  IsolateError,
  IsolatePanicError,
  IsolateWorkerError,
  IsolateStartError,
  IsolateDataError,
  JsonError,
  IsolateUnsupportedError,
  IsolateTimeoutError,
  IsolateTaskError,
};

/**
 * The error named `name` (one of the classes above; an unknown name gives an `IsolateError`),
 * with `options` (`cause` and the class's fields). Called from Rust.
 *
 * `'AbortError'` gives a `DOMException` named `AbortError`, not a class of ours: that is what
 * the platform rejects with when a signal aborts (`fetch`, streams, and an `AbortSignal`'s default
 * `reason`), and what our own abort path already hands back (the signal's reason). So every abort
 * a caller sees has one shape, which `error.name === 'AbortError'` recognises as for `fetch`.
 * Where `DOMException` is missing, it is an `Error` named `AbortError`.
 */
export function createIsolateError(name, message, options) {
  let error;
  if (name !== 'AbortError') {
    const cls = Object.prototype.hasOwnProperty.call(CLASSES, name) ? CLASSES[name] : IsolateError;
    error = new cls(message, options);
  } else if (typeof DOMException === 'function') {
    error = new DOMException(message, 'AbortError');
  } else {
    error = new Error(message);
    error.name = 'AbortError';
  }
  // The stack starts at the caller, as when Rust made a plain Error, without this function and
  // the constructors (where the engine can: V8, and so also gives a DOMException made by script
  // the stack it otherwise lacks).
  Error.captureStackTrace?.(error, createIsolateError);
  return error;
}
