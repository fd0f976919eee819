// workerpool 10 peer for `npm run bench`: a classic worker script registering a named method
// (no `exec(fn)`: that path uses `new Function` in the worker, which the page's CSP forbids).
// ./bench-vendor/workerpool-worker.js is node_modules/workerpool/dist/worker.js, copied by
// scripts/bench.mjs; it defines the global `worker` (workerpool's worker side).
/* global worker */
importScripts('./bench-vendor/workerpool-worker.js');

worker.add({
  noop() {
    return 0;
  },
});
