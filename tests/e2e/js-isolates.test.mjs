// The JS isolate model (docs/js.md): spawnIsolate with ports, kill, pause and listeners; pool
// tasks with progress, transferred results and SendPorts in their arguments; pool.stream with
// backpressure and early stops; the package entry's errors before init(); bad input of every
// kind. One page (tests/fixtures/js-api/) runs it all and publishes `window.__results`; this file
// asserts on them in Chromium and Firefox, cross-origin isolated (spawn works) and not (spawn is
// refused with IsolateUnsupportedError, everything else works).
//
//   node --test tests/e2e/js-isolates.test.mjs      (after `npm run build`: serves www/pkg)
//
// Env: WASM_ISOLATES_PKG=<dir> serves another build of the package (with its index.js).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { serve } from '../../scripts/serve.mjs';
import { CSP, launchOptions, ROOT, WWW } from './support.mjs';

const PKG = process.env.WASM_ISOLATES_PKG ? path.resolve(process.env.WASM_ISOLATES_PKG) : path.join(WWW, 'pkg');
let site;

before(() => {
  assert.ok(existsSync(path.join(PKG, 'index.js')), `${PKG}/index.js is missing: run \`npm run build\` first`);
  site = mkdtempSync(path.join(tmpdir(), 'wasm-isolates-js-api-'));
  cpSync(path.join(ROOT, 'tests', 'fixtures', 'js-api'), site, { recursive: true });
  cpSync(PKG, path.join(site, 'pkg'), { recursive: true });
});

after(() => rmSync(site, { recursive: true, force: true }));

const setups = [
  { engine: 'chrome', coi: true },
  { engine: 'chrome', coi: false },
  { engine: 'firefox', coi: true },
  { engine: 'firefox', coi: false },
];

for (const { engine, coi } of setups) {
  describe(`JS isolate model, ${engine}, cross-origin isolation ${coi ? 'on' : 'off'}`, () => {
    let server;
    let browser;
    let userDataDir;
    let r;
    const pageErrors = [];
    before(async () => {
      server = await serve({ root: site, port: 0, coi, csp: CSP });
      userDataDir = mkdtempSync(path.join(tmpdir(), 'wasm-isolates-profile-'));
      browser = await puppeteer.launch(launchOptions(engine, userDataDir));
      const page = await browser.newPage();
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      page.on('console', (m) => {
        if (/Content.Security.Policy|CSP/i.test(m.text())) pageErrors.push(m.text());
      });
      await page.goto(new URL('index.html', server.url).href);
      await page.waitForFunction(() => window.__results !== undefined, { timeout: 30_000 });
      r = await page.evaluate(() => window.__results);
      if (process.env.WASM_ISOLATES_DEBUG) console.log(JSON.stringify(r, null, 2));
    });
    after(async () => {
      await browser?.close();
      await server?.close();
      rmSync(userDataDir, { recursive: true, force: true });
    });

    test('every step ran to its end (none hung or threw outside its checks)', () => {
      for (const step of ['rough', 'progressAndTransfer', 'streams', 'isolates']) {
        assert.equal(r[`${step}Failed`], undefined, r[`${step}Failed`]);
      }
      assert.deepEqual(pageErrors, []);
      assert.equal(r.capabilities.crossOriginIsolated, coi);
    });

    test('before init(): IsolateError, rejected by what returns a promise, thrown by the rest', () => {
      assert.equal(r.beforeInit.parseJsonIsPromise, true);
      for (const o of [r.beforeInit.parseJson, r.beforeInit.pool, r.beforeInit.capabilities]) {
        assert.equal(o.ok, false);
        assert.equal(o.name, 'IsolateError');
        assert.equal(o.base, true);
        assert.match(o.message, /await init\(\)/);
      }
      assert.equal(r.poolIsInstance, true, 'the entry\'s guarded class still passes instanceof');
    });

    test('pool.stats() counts a task that threw as failed', () => {
      assert.equal(r.stats.completed, 1);
      assert.equal(r.stats.failed, 1);
    });

    test('bad input to pool.run: typed errors, no repeated prefixes, the pool stays usable', () => {
      assert.equal(r.uncloneableArg.name, 'IsolateDataError');
      assert.equal(r.uncloneableResult.ok, false);
      assert.equal(r.uncloneableResult.base, true, JSON.stringify(r.uncloneableResult));
      for (const o of [r.uncloneableArg, r.uncloneableResult]) {
        assert.doesNotMatch(o.message, /(\w[\w ]*): \1:/, `a repeated prefix in "${o.message}"`);
      }
      assert.equal(r.missingModule.name, 'IsolateTaskError');
      assert.equal(r.notAFunction.name, 'IsolateTaskError');
      assert.match(r.notAFunction.cause.message, /no exported function "nope"/);
      assert.deepEqual(r.afterBadInput, { ok: true, value: 42 });
    });

    test('close() refuses new calls; free() drops the pool and rejects what was pending', () => {
      assert.equal(r.afterClose.name, 'IsolateError');
      assert.equal(r.afterFree.ok, false, JSON.stringify(r.afterFree));
      assert.equal(r.afterFree.base, true, JSON.stringify(r.afterFree));
    });

    test('every progress report reaches onProgress, in order; a non-function onProgress is a TypeError', () => {
      assert.deepEqual(r.progressResult, { ok: true, value: 5 });
      assert.deepEqual(r.progress, [[1, 5], [2, 5], [3, 5], [4, 5], [5, 5]], 'every report, in order, before the result');
      assert.equal(r.badOnProgress.name, 'TypeError');
    });

    test('transfer(value, list) moves a result\'s buffer; SendPorts travel in task arguments', () => {
      assert.deepEqual(r.transferred, { size: 1024, byteLength: 1024, first: 7 });
      assert.deepEqual(r.leftInIsolate, { ok: true, value: 0 }, 'the isolate\'s buffer is detached: it moved');
      assert.deepEqual(r.portArg, { ok: true, value: 'sent' });
      assert.deepEqual(r.portArgMessage, { ok: true, value: { answer: 7 } });
      assert.deepEqual(r.portClosed, { ok: true, value: true }, 'a closed port ends');
    });

    test('pool.stream: items in order, backpressure, an early stop runs the generator\'s finally', () => {
      assert.deepEqual(r.squares, { ok: true, value: [0, 1, 4, 9, 16, 25] });
      assert.equal(r.earlyStop.ok, true, JSON.stringify(r.earlyStop));
      assert.equal(r.earlyStop.value.first, 0);
      // window 2: the generator is at most the window (plus the item being taken) ahead.
      assert.ok(r.earlyStop.value.produced <= 4, `produced ${r.earlyStop.value.produced} of 1000 with window 2`);
      assert.deepEqual(r.failing.value, { got: [0, 1], threw: { name: 'IsolateTaskError', cause: 'TypeError', message: 'failed after 2' } });
      assert.equal(r.notAGenerator.name, 'IsolateTaskError');
      assert.match(r.notAGenerator.cause.message, /async iterable/);
      assert.equal(r.streamMissingModule.name, 'IsolateTaskError');
      assert.deepEqual(r.streamBuffers, { ok: true, value: [[4096, 0], [4096, 1], [4096, 2]] });
      assert.deepEqual(r.afterStreams, { ok: true, value: 2 });
      assert.equal(r.streamStats.restarted, 0, 'an early stop ends the generator without replacing its worker');
    });

    test('the worker option: bad factories fail the task that needed them, typed; serve() adds up', () => {
      assert.equal(r.workerOptionFailed, undefined, r.workerOptionFailed);
      assert.equal(r.notAFactory.name, 'TypeError');
      assert.match(r.notAFactory.message, /worker option must be a function/);
      assert.equal(r.serveOnPage.name, 'TypeError', 'serve() refuses to run on the page');
      assert.equal(r.factoryReturnsNumber.name, 'IsolateStartError');
      assert.match(r.factoryReturnsNumber.message, /must return a Worker .*not number/);
      assert.equal(r.afterBadFactory.name, 'IsolateStartError', 'each task that needs a worker is told');
      assert.match(r.factoryReturnsPromise.message, /not a Promise/);
      // serve() called twice: the first call's tasks and the second's entries are both there.
      assert.deepEqual(r.registeredFirst, { ok: true, value: 3 });
      assert.equal(r.registeredNotAFunction.name, 'IsolateTaskError');
      assert.match(r.registeredNotAFunction.cause.message, /task "notAFunction" is not a function/);
      assert.deepEqual(r.registeredStream, { ok: true, value: [0, 1, 4] });
      assert.equal(r.freedPending.ok, false);
      assert.equal(r.freedPending.base, true, `a freed pool's task rejects with an IsolateError: ${JSON.stringify(r.freedPending)}`);
      assert.equal(r.spawnHandleWithoutWorker.name, 'TypeError');
      if (!coi) return;
      assert.equal(r.servedDebugName, 'served', 'the factory tag is not part of the name');
      assert.equal(r.servedDoubled, 8);
      assert.deepEqual(r.servedExit, { ok: true, value: 'returned' });
      assert.equal(r.spawnUnregistered.name, 'IsolateTaskError');
      assert.match(r.spawnUnregistered.cause.message, /task "nope" is not registered/);
      assert.equal(r.lookalikeName, 'x#worker-factory-1');
      assert.deepEqual(r.lookalikeExit, { ok: true, value: 'killed' });
    });

    if (!coi) {
      test('spawnIsolate is refused with IsolateUnsupportedError naming the headers', () => {
        assert.equal(r.unsupported.name, 'IsolateUnsupportedError');
        assert.match(r.unsupported.message, /Cross-Origin-Opener-Policy/);
      });
      return;
    }

    test('spawnIsolate: ports both ways inside messages, pause holds delivery', () => {
      assert.equal(r.debugName, 'doubler');
      assert.equal(r.hello, 'hi');
      assert.equal(r.doubled, 42);
      assert.equal(r.pausedState, 'paused');
      assert.equal(r.whilePaused, 'held');
      assert.deepEqual(r.afterResume, { ok: true, value: 10 });
    });

    test('exit: the exited promise, the exit listener, linked ports end, dead ports drop', () => {
      assert.deepEqual(r.exit, { ok: true, value: { reason: 'returned' } });
      assert.deepEqual(r.onExit, { ok: true, value: 'bye' });
      assert.deepEqual(r.repliesEnd, { ok: true, value: true }, 'the linked port ends with the isolate');
      assert.equal(r.sendAfterExit.ok, true);
      assert.equal(r.stateAfterExit, 'dead');
      assert.equal(r.killAfterExit.ok, true);
    });

    test('kill: immediate stops a busy isolate, beforeNextEvent a cooperative one', () => {
      assert.deepEqual(r.killed, { ok: true, value: { reason: 'killed' } });
      assert.deepEqual(r.politeKill, { ok: true, value: { reason: 'killed' } });
      assert.equal(r.badPriority.name, 'TypeError');
    });

    test('errors: listeners hear an entry\'s error; errorsAreFatal: false survives one', () => {
      assert.deepEqual(r.failedExit, { ok: true, value: { reason: 'failed', error: 'IsolateWorkerError' } });
      assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
      assert.equal(r.errors[0].name, 'IsolateWorkerError');
      assert.match(r.errors[0].message, /RangeError: entry failed/);
      assert.deepEqual(r.survivor, { ok: true, value: 'still alive' });
      assert.deepEqual(r.survivorExit, { ok: true, value: 'returned' });
      assert.deepEqual(r.survivorErrors, ['IsolateWorkerError']);
    });

    test('bad input to spawnIsolate: typed errors', () => {
      assert.equal(r.spawnMissingModule.name, 'IsolateTaskError');
      assert.equal(r.spawnNotAFunction.name, 'IsolateTaskError');
      assert.match(r.spawnNotAFunction.cause.message, /no exported function "notAFunction"/);
      assert.equal(r.spawnUncloneable.name, 'IsolateDataError');
      assert.equal(r.sendUncloneable.name, 'IsolateDataError');
    });
  });
}
