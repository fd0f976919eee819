// Comlink 4 peer for `npm run bench`: a module worker exposing one tiny method.
// ./bench-vendor/comlink.mjs is copied from node_modules/comlink/dist/esm by scripts/bench.mjs.
import { expose } from './bench-vendor/comlink.mjs';

expose({
  noop() {
    return 0;
  },
});
