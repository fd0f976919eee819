// The npm package as its consumers get it: `npm pack`, unpacked into each consumer's
// node_modules, in five set-ups — unbundled (a plain <script type="module"> importing by path),
// the `wasm-pack build --target web` output, Vite (TypeScript, checked with `tsc --noEmit`) under
// `vite build` and under `vite dev`, and webpack 5 — each served under a strict CSP
// (`script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'`: no eval, no blob: workers) and
// driven headless. Every set-up runs the same body (tests/fixtures/shared/exercise.js):
// IsolatePool (module tasks, transfer, errors with their cause, abort, timeout, progress, a
// transferred result, a stream), spawnIsolate with ports both ways (refused without cross-origin
// isolation), the same again with tasks built into a worker script of the consumer's (the
// `worker` option, `serve()` and `tasksOf()`: a TypeScript task module under Vite, one importing
// a sibling module everywhere), parseJson in every mode against JSON.parse, sortInIsolate.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';
import { serve } from '../../scripts/serve.mjs';
import { CSP, launchOptions, ROOT } from './support.mjs';

const FIXTURES = path.join(ROOT, 'tests', 'fixtures');

/** Copies fixture `name` and the shared files into `dir`. */
function copyFixture(name, dir) {
  for (const from of [path.join(FIXTURES, 'shared'), path.join(FIXTURES, name)]) {
    for (const f of readdirSync(from)) cpSync(path.join(from, f), path.join(dir, f));
  }
}

/** Unpacks the `npm pack` tarball as `dir/node_modules/wasm-isolates`. */
function installPackage(dir) {
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  execFileSync('tar', ['-xzf', path.join(work, packed.filename), '-C', path.join(dir, 'node_modules')]);
  renameSync(path.join(dir, 'node_modules', 'package'), path.join(dir, 'node_modules', 'wasm-isolates'));
}

async function buildWithVite(dir) {
  const { build } = await import('vite');
  await build({ root: dir, configFile: path.join(dir, 'vite.config.mjs'), logLevel: 'warn' });
}

async function buildWithWebpack(dir) {
  const { default: webpack } = await import('webpack');
  const config = (await import(pathToFileURL(path.join(dir, 'webpack.config.mjs')).href)).default;
  const stats = await new Promise((resolve, reject) => webpack(config, (err, s) => (err ? reject(err) : resolve(s))));
  if (stats.hasErrors()) throw new Error(stats.toString({ all: false, errors: true }));
}

let work;
let packed;

// One browser per engine for the whole file, launched when first needed: each set-up gets a
// browser context of its own (a fresh profile's isolation: no cache, storage or workers shared
// with another set-up), which costs a fraction of launching a browser (15 set-ups).
const browsers = new Map();
const profileDirs = [];
function browserFor(engine) {
  if (!browsers.has(engine)) {
    const userDataDir = mkdtempSync(path.join(tmpdir(), 'wasm-isolates-profile-'));
    profileDirs.push(userDataDir);
    browsers.set(engine, puppeteer.launch(launchOptions(engine === 'chromium' ? 'chrome' : 'firefox', userDataDir)));
  }
  return browsers.get(engine);
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'wasm-isolates-consumer-'));
  // `npm pack` runs `prepack`, which builds pkg/ (a release build, cached by cargo).
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  packed = JSON.parse(out.slice(out.indexOf('[')))[0];

  const web = path.join(work, 'web');
  installPackage(web);
  copyFixture('unbundled', web);

  // The same page on the package `wasm-pack build --target web` makes (wasm-opt is disabled in
  // Cargo.toml's metadata, so it downloads nothing).
  const wasmPack = path.join(work, 'wasm-pack-web');
  mkdirSync(path.join(wasmPack, 'node_modules', 'wasm-isolates'), { recursive: true });
  execFileSync('wasm-pack', ['build', '--target', 'web', '--out-dir', path.join(wasmPack, 'node_modules', 'wasm-isolates', 'pkg')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PATH: `${path.join(process.env.HOME ?? '/root', '.cargo', 'bin')}:${process.env.PATH}` },
  });
  copyFixture('unbundled', wasmPack);
  // wasm-pack writes no index.js (the entry that also exports the error classes): use its glue.
  const wasmPackMain = path.join(wasmPack, 'main.js');
  writeFileSync(wasmPackMain, readFileSync(wasmPackMain, 'utf8').replace('/pkg/index.js', '/pkg/wasm_isolates.js'));

  const vite = path.join(work, 'vite');
  installPackage(vite);
  copyFixture('vite', vite);
  await buildWithVite(vite);

  const webpackDir = path.join(work, 'webpack');
  installPackage(webpackDir);
  copyFixture('webpack', webpackDir);
  await buildWithWebpack(webpackDir);
});

after(async () => {
  for (const launched of browsers.values()) await (await launched.catch(() => null))?.close();
  for (const dir of profileDirs) rmSync(dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test('npm pack ships the glue, its types, the wasm and the worker scripts', () => {
  const files = packed.files.map((f) => f.path);
  for (const want of ['package.json', 'README.md', 'pkg/index.js', 'pkg/index.d.ts', 'pkg/wasm_isolates.js', 'pkg/wasm_isolates.d.ts', 'pkg/wasm_isolates_bg.wasm']) {
    assert.ok(files.includes(want), `${want} missing from ${files.join(', ')}`);
  }
  assert.ok(files.some((f) => /^pkg\/snippets\/.*\/worker\/bootstrap\.js$/.test(f)), 'bootstrap.js missing');
  assert.ok(files.some((f) => /^pkg\/snippets\/.*\/worker\/host\.js$/.test(f)), 'host.js missing');
  assert.ok(files.some((f) => /^pkg\/snippets\/.*\/worker\/errors\.js$/.test(f)), 'errors.js missing');
  assert.ok(files.some((f) => /^pkg\/snippets\/.*\/worker\/js-api\.js$/.test(f)), 'js-api.js missing');
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('target/')), 'sources leaked into the package');
});

test('TypeScript: the Vite fixture type-checks against the package (tsc --noEmit)', () => {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '-p', path.join(work, 'vite')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    assert.fail(`tsc --noEmit failed:\n${error.stdout}${error.stderr}`);
  }
});

test('npm pack ships the worker entry for the worker option (wasm-isolates/worker)', () => {
  const files = packed.files.map((f) => f.path);
  for (const want of ['pkg/worker.js', 'pkg/worker.d.ts']) assert.ok(files.includes(want), `${want} missing`);
  const manifest = JSON.parse(readFileSync(path.join(work, 'vite', 'node_modules', 'wasm-isolates', 'package.json'), 'utf8'));
  assert.equal(manifest.exports['./worker'].import, './pkg/worker.js');
});

test('bundlers put the isolate worker in a chunk of its own that carries the glue', () => {
  // Vite: a worker chunk built from bootstrap.js; the glue it imports is in the worker's graph.
  const viteAssets = readdirSync(path.join(work, 'vite', 'dist', 'assets'));
  assert.ok(viteAssets.some((f) => /^bootstrap-.*\.js$/.test(f)), `no worker chunk in ${viteAssets.join(', ')}`);
  // The worker script of the `worker` option is built (transpiled, its imports bundled), not
  // copied as an asset: no TypeScript file is shipped.
  assert.ok(viteAssets.some((f) => /^tasks\.worker-.*\.js$/.test(f)), `no tasks.worker chunk in ${viteAssets.join(', ')}`);
  assert.ok(!viteAssets.some((f) => f.endsWith('.ts')), `TypeScript shipped as an asset: ${viteAssets.join(', ')}`);
  // webpack: besides main.js, the workers' entries and the glue chunk they load.
  const webpackOut = readdirSync(path.join(work, 'webpack', 'dist')).filter((f) => f.endsWith('.js'));
  assert.ok(webpackOut.length >= 4, `expected main.js plus worker chunks, got ${webpackOut.join(', ')}`);
});

const FROM = {
  web: 'npm pack, unbundled',
  'wasm-pack-web': 'wasm-pack build --target web, unbundled',
  vite: 'npm pack, Vite build',
  'vite-dev': 'npm pack, vite dev',
  webpack: 'npm pack, webpack 5 build',
};

// Where each set-up's page is served from (relative to its directory).
const SERVE_ROOT = { web: '.', 'wasm-pack-web': '.', vite: 'dist', webpack: '.' };

/**
 * `vite dev` on the Vite fixture (its sources, not its build), with the same headers the other
 * set-ups get: the dev server transpiles and serves each module on request.
 */
async function serveViteDev(coi) {
  const { createServer } = await import('vite');
  const root = path.join(work, 'vite');
  const isolation = coi ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
  const server = await createServer({
    root,
    configFile: path.join(root, 'vite.config.mjs'),
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, hmr: false, headers: { 'Content-Security-Policy': CSP, ...isolation } },
  });
  await server.listen();
  return { url: server.resolvedUrls.local[0], close: () => server.close() };
}

const setups = [
  { engine: 'chromium', coi: true, root: 'web' },
  { engine: 'chromium', coi: false, root: 'web' },
  { engine: 'firefox', coi: true, root: 'web' },
  { engine: 'firefox', coi: false, root: 'web' },
  { engine: 'chromium', coi: true, root: 'wasm-pack-web' },
  { engine: 'chromium', coi: true, root: 'vite' },
  { engine: 'chromium', coi: false, root: 'vite' },
  { engine: 'firefox', coi: true, root: 'vite' },
  { engine: 'firefox', coi: false, root: 'vite' },
  { engine: 'chromium', coi: true, root: 'vite-dev' },
  { engine: 'firefox', coi: false, root: 'vite-dev' },
  { engine: 'chromium', coi: true, root: 'webpack' },
  { engine: 'chromium', coi: false, root: 'webpack' },
  { engine: 'firefox', coi: false, root: 'webpack' },
  { engine: 'firefox', coi: true, root: 'webpack' },
];

/**
 * The `worker` option's results (exercise.js, `exerciseWorkerOption`): tasks registered by
 * `serve()` in the consumer's own worker script run, report progress, stream and serve a spawned
 * isolate with ports; a name not registered, a handle without the option, a factory that throws
 * and a script that never calls serve() each fail with a typed error instead of hanging.
 */
function checkWorkerOption(w, { root, coi }) {
  if (root === 'wasm-pack-web') {
    assert.equal(w, null, 'the bare glue has no tasksOf');
    return;
  }
  assert.deepEqual(w.doubled, { ok: true, value: [2, 4, 6] }, 'a task that imports a sibling module');
  assert.deepEqual(w.progress, { ok: true, value: 3 });
  assert.deepEqual(w.heard, [[1, 3], [2, 3], [3, 3]]);
  assert.deepEqual(w.stream, { ok: true, value: [0, 1, 2, 3] });
  assert.equal(w.unregistered.name, 'IsolateTaskError');
  assert.match(w.unregistered.cause.message, /task "nope" is not registered: serve\(\) in the worker registered "count", "doubled", "echo", "range"/);
  assert.deepEqual(w.byUrl, { ok: true, value: 5 });
  assert.deepEqual(w.afterErrors, { ok: true, value: [10] });
  assert.equal(w.stats.failed, 1);
  assert.equal(w.stats.completed, 5);
  assert.equal(w.withoutWorkerOption.name, 'TypeError');
  assert.match(w.withoutWorkerOption.message, /needs the `worker` option/);
  assert.equal(w.factoryThrows.name, 'IsolateStartError');
  assert.match(w.factoryThrows.message, /the worker option threw \(Error: no workers today\)/);
  assert.equal(w.noServe.name, 'IsolateStartError');
  assert.match(w.noServe.message, /must call serve\(tasks\) from 'wasm-isolates\/worker'/);
  if (coi) {
    assert.deepEqual(w.spawn, { ok: true, value: { answer: 'echo: hi', exit: 'returned', ended: true, debugName: 'echo' } });
  } else {
    assert.equal(w.spawn.name, 'IsolateUnsupportedError');
  }
}

for (const { engine, coi, root } of setups) {
  describe(`consumer of ${FROM[root]}, ${engine}, cross-origin isolation ${coi ? 'on' : 'off'}`, () => {
    let server;
    let context;
    before(async () => {
      server = root === 'vite-dev'
        ? await serveViteDev(coi)
        : await serve({ root: path.join(work, root, SERVE_ROOT[root]), port: 0, coi, csp: CSP });
      context = await (await browserFor(engine)).createBrowserContext();
    });
    after(async () => {
      await context?.close();
      await server?.close();
    });

    test('the JS API works as documented', async () => {
      const page = await context.newPage();
      const violations = [];
      const errors = [];
      page.on('console', (m) => {
        if (/Content.Security.Policy|CSP/i.test(m.text())) violations.push(m.text());
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(new URL("index.html", server.url).href);
      await page.waitForFunction(() => window.__fixture !== undefined, { timeout: 30_000 }).catch(() => {
        throw new Error(`the fixture did not start: ${errors.join(' | ')}`);
      });
      const r = await page.evaluate(() => window.__fixture);
      assert.equal(r.fatal, undefined, r.fatal);
      assert.equal(r.capabilities.crossOriginIsolated, coi);
      assert.deepEqual(r.add, { ok: true, value: 5 });
      assert.deepEqual(r.sumBytes, { ok: true, value: 256 });
      assert.equal(r.detached, true, 'the transferred buffer is detached');
      assert.equal(r.fails.ok, false);
      assert.equal(r.fails.name, 'IsolateTaskError');
      assert.equal(r.fails.cause.name, 'RangeError');
      assert.equal(r.fails.cause.message, 'out of range');
      assert.ok(r.fails.cause.stack.includes(new URL(r.taskUrl).pathname), `the task's own stack survives: ${r.fails.cause.stack}`);
      assert.equal(r.missing.name, 'IsolateTaskError');
      assert.match(r.missing.cause.message, /no exported function "nope"/);
      assert.equal(r.aborted.ok, false);
      assert.equal(r.aborted.name, 'AbortError');
      assert.equal(r.timedOut.name, 'IsolateTimeoutError');
      assert.equal(r.aborted.domAbort, true, 'an abort rejects with a DOMException, as fetch does');
      for (const failure of [r.fails, r.timedOut, r.malformed]) assert.equal(failure.isError, true);
      if (root === 'wasm-pack-web') {
        assert.equal(r.fails.classes, null, 'the bare glue exports no error classes');
      } else {
        // The package entry exports the classes, and the errors are their instances.
        assert.deepEqual(r.fails.classes, { base: true, task: true, json: false, timeout: false });
        assert.deepEqual(r.timedOut.classes, { base: true, task: false, json: false, timeout: true });
        assert.deepEqual(r.malformed.classes, { base: true, task: false, json: true, timeout: false });
      }
      assert.deepEqual(r.afterFailures, { ok: true, value: 42 });
      assert.equal(r.stats.completed + r.stats.failed, 7);
      assert.equal(r.stats.failed, 4, 'the tasks that threw count as failed, with the aborted and timed-out ones');
      assert.deepEqual(r.progress, { ok: true, value: 3 });
      assert.deepEqual(r.heard, [[1, 3], [2, 3], [3, 3]], 'every progress report, in order, before the result');
      assert.deepEqual(r.filled, [64, 9]);
      assert.deepEqual(r.stream, { ok: true, value: [0, 1, 2, 3] });
      if (coi) {
        assert.deepEqual(r.spawn, { ok: true, value: { answer: 'echo: hi', exit: 'returned', ended: true, debugName: 'js' } });
      } else {
        assert.equal(r.spawn.name, 'IsolateUnsupportedError');
      }
      checkWorkerOption(r.workerOption, { root, coi });
      assert.equal(r.json.length, r.json.expectedLength);
      assert.ok(r.json.first && r.json.page && r.json.objects, JSON.stringify(r.json));
      assert.ok(Math.abs(r.json.latSum - r.json.expectedLatSum) < 1e-6, JSON.stringify(r.json));
      assert.equal(r.malformed.name, 'JsonError');
      assert.equal(r.malformedOffset, 6);
      assert.deepEqual(r.sorted, [1, 2, 3]);
      assert.deepEqual(violations, []);
      await page.close();
    });
  });
}
