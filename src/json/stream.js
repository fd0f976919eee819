// The JSON service's bodies read as streams (src/json/body.rs): on the calling thread, what a
// `Request` or a `Response` becomes to travel to the isolate; in the isolate, a URL, `Request`,
// `Blob` or transferred body opened and read piece by piece.

let transferable;

/** Whether this browser can transfer a ReadableStream to another thread (asked once). */
function canTransferStreams() {
  if (transferable === undefined) {
    try {
      const stream = new ReadableStream();
      const { port1, port2 } = new MessageChannel();
      port1.postMessage(stream, [stream]);
      port1.close();
      port2.close();
      transferable = true;
    } catch {
      transferable = false;
    }
  }
  return transferable;
}

/**
 * The bytes a response's body will give, or -1 if unknown. A compressed body's Content-Length
 * counts the compressed bytes, not those its stream gives.
 */
function expectedLength(response) {
  const encoding = response.headers.get('content-encoding');
  const header = response.headers.get('content-length');
  if (header === null || (encoding !== null && encoding !== 'identity')) return -1;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : -1;
}

/**
 * Calling thread: what the isolate makes a `Request` again from, `[url, init]` (a Request cannot
 * be posted to a worker). A body is read into a Blob here (a request's body is small; the Blob
 * travels by reference). The request's own `signal` is not followed: pass `signal` to the parse.
 */
export async function requestParts(request) {
  if (request.bodyUsed) throw new TypeError("the Request's body was already read (bodyUsed)");
  const init = {
    method: request.method,
    headers: [...request.headers],
    credentials: request.credentials,
    cache: request.cache,
    redirect: request.redirect,
    referrer: request.referrer,
    referrerPolicy: request.referrerPolicy,
    integrity: request.integrity,
  };
  // A navigation request cannot be made again by script.
  if (request.mode !== 'navigate') init.mode = request.mode;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const body = await request.blob();
    if (body.size > 0) init.body = body;
  }
  return [request.url, init];
}

/**
 * Calling thread: a `Response`'s body as the isolate reads it, `[body, length, stop]`: a stream to
 * transfer (length -1 if unknown) or, where streams cannot be transferred, a MessagePort the
 * isolate pulls the body's pieces through (`portReader`), and a function that stops it,
 * cancelling the body; or `null` for no body. The body is piped into a stream of our own rather than transferred itself, so that this
 * thread can cancel it when the parse is dropped: a transferred stream's cancel does not come
 * back when its reader's worker is terminated (a cancelled task whose isolate is stopped).
 */
export async function responseBody(response) {
  if (response.bodyUsed) throw new TypeError("the Response's body was already read (bodyUsed)");
  const body = response.body;
  if (body === null) return [null, 0, null];
  if (body.locked) throw new TypeError("the Response's body is locked (a reader holds it)");
  if (!canTransferStreams()) return pieceByPiece(body, expectedLength(response));
  const { readable, writable } = new TransformStream();
  const stop = new AbortController();
  // Ends when the body ends, fails, or is cancelled from either side; nothing to report here.
  body.pipeTo(writable, { signal: stop.signal }).catch(() => {});
  return [readable, expectedLength(response), () => stop.abort()];
}

/**
 * Calling thread, where a ReadableStream cannot be transferred (WebKit before transferable
 * streams: https://bugs.webkit.org/show_bug.cgi?id=215485): the body's pieces go to the isolate
 * through a MessagePort, one for each `'pull'` it sends (so the body is read no faster than it is
 * parsed), each moved by transfer. `'cancel'` (a malformed document) and `stop` (the parse was
 * dropped) cancel the body. Reading the body into a Blob instead would wait for all of it: no
 * parse while it downloads, and a body that never ends would never fail.
 */
function pieceByPiece(body, length) {
  const reader = body.getReader();
  const { port1, port2 } = new MessageChannel();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    reader.cancel().catch(() => {});
    port1.close();
  };
  port1.onmessage = async ({ data }) => {
    if (data === 'cancel') {
      stop();
      return;
    }
    try {
      const { done, value } = await reader.read();
      if (stopped) return;
      if (done) {
        port1.postMessage({ done: true });
        return;
      }
      // Only a piece that owns its whole buffer can be moved; copy a view into a larger one.
      const piece = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice();
      port1.postMessage({ value: piece }, [piece.buffer]);
    } catch (error) {
      if (!stopped) port1.postMessage({ error: error instanceof Error ? error.message : String(error) });
    }
  };
  return [port2, length, stop];
}

/** Isolate: a reader of the pieces `pieceByPiece` sends, with a ReadableStream reader's `read` and `cancel`. */
function portReader(port) {
  const waiting = [];
  port.onmessage = ({ data }) => waiting.shift()?.(data);
  return {
    read() {
      return new Promise((resolve, reject) => {
        waiting.push((data) => {
          if (data.error !== undefined) reject(new Error(data.error));
          else resolve(data.done ? { done: true, value: undefined } : { done: false, value: data.value });
        });
        port.postMessage('pull');
      });
    },
    cancel() {
      port.postMessage('cancel');
      port.close();
      return Promise.resolve();
    },
  };
}

function opened(response, what) {
  if (!response.ok) {
    throw new Error(`${what}: HTTP ${response.status} ${response.statusText}`);
  }
  return [response.body === null ? null : response.body.getReader(), expectedLength(response)];
}

/** Isolate: fetches `url`; `[reader, length or -1]` (reader `null` for no body). */
export async function openUrl(url) {
  return opened(await fetch(url), `GET ${url}`);
}

/** Isolate: makes the request of `requestParts` again and fetches it. */
export async function openRequest(url, init) {
  return opened(await fetch(url, init), `${init.method} ${url}`);
}

/** Isolate: a Blob's bytes as a stream. */
export async function openBlob(blob) {
  return [blob.stream().getReader(), blob.size];
}

/** Isolate: a transferred body (a stream, or the port of `pieceByPiece`). */
export async function openStream(stream) {
  return [stream instanceof MessagePort ? portReader(stream) : stream.getReader(), -1];
}

/** Isolate: the next piece of a body, a Uint8Array; `undefined` at its end. */
export async function readPiece(reader) {
  if (reader === null) return undefined;
  const { done, value } = await reader.read();
  if (done) return undefined;
  if (!(value instanceof Uint8Array)) {
    throw new TypeError('the body gave a piece that is not bytes (a Uint8Array)');
  }
  return value;
}

/** Isolate: stops reading a body; a download is cancelled. */
export function cancelReader(reader) {
  if (reader !== null) reader.cancel().catch(() => {});
}
