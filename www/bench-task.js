// A plain ES module of tasks for the JS `IsolatePool` in `npm run bench` (www/bench.js): the
// memory row, the js_task rows (issue 16) and the url rows' fetch-only case (issue 18).
// Each task gets its arguments and then the IsolateContext, which these do not need.

/** The tiny task: its round trip is the pool's own overhead. */
export function noop() {
  return 0;
}

/**
 * Fetch-only: the isolate fetches `url` into an ArrayBuffer, as the JSON service reads a URL
 * source (worker/host.js `fetchBytes`), and parses nothing. Resolves with the byte length.
 */
export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status} ${response.statusText}`);
  const buffer = await response.arrayBuffer();
  return buffer.byteLength;
}
