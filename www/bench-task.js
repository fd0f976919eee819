// A tiny ES module task for the JS `IsolatePool` in `npm run bench` (www/bench.js, memory row).
export function noop() {
  return 0;
}
