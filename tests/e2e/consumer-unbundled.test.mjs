// The npm package as an unbundled consumer gets it: `npm pack`, unpack into a page's
// node_modules, import by path from a plain <script type="module">, under a strict CSP
// (`script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'` — no eval, no blob: workers).
// Exercises the JS API: IsolatePool (module tasks, transfer, errors with their cause, abort,
// timeout), parseJson in every mode against JSON.parse, sortInIsolate.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { serve } from '../../scripts/serve.mjs';
import { CSP, launchOptions, ROOT } from './support.mjs';

const FIXTURE = path.join(ROOT, 'tests', 'fixtures', 'unbundled');

let work;
let packed;

before(() => {
  work = mkdtempSync(path.join(tmpdir(), 'wasm-isolates-consumer-'));
  // `npm pack` runs `prepack`, which builds pkg/ (a release build, cached by cargo).
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  packed = JSON.parse(out.slice(out.indexOf('[')))[0];
  const web = path.join(work, 'web');
  mkdirSync(path.join(web, 'node_modules'), { recursive: true });
  execFileSync('tar', ['-xzf', path.join(work, packed.filename), '-C', path.join(web, 'node_modules')]);
  renameSync(path.join(web, 'node_modules', 'package'), path.join(web, 'node_modules', 'wasm-isolates'));
  for (const f of readdirSync(FIXTURE)) cpSync(path.join(FIXTURE, f), path.join(web, f));

  // The same page on the package `wasm-pack build --target web` makes (wasm-opt is disabled in
  // Cargo.toml's metadata, so it downloads nothing).
  const wasmPack = path.join(work, 'wasm-pack-web');
  mkdirSync(path.join(wasmPack, 'node_modules', 'wasm-isolates'), { recursive: true });
  execFileSync('wasm-pack', ['build', '--target', 'web', '--out-dir', path.join(wasmPack, 'node_modules', 'wasm-isolates', 'pkg')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PATH: `${path.join(process.env.HOME ?? '/root', '.cargo', 'bin')}:${process.env.PATH}` },
  });
  for (const f of readdirSync(FIXTURE)) cpSync(path.join(FIXTURE, f), path.join(wasmPack, f));
});

after(() => rmSync(work, { recursive: true, force: true }));

test('npm pack ships the glue, its types, the wasm and the worker scripts', () => {
  const files = packed.files.map((f) => f.path);
  for (const want of ['package.json', 'README.md', 'pkg/wasm_isolates.js', 'pkg/wasm_isolates.d.ts', 'pkg/wasm_isolates_bg.wasm']) {
    assert.ok(files.includes(want), `${want} missing from ${files.join(', ')}`);
  }
  assert.ok(files.some((f) => /^pkg\/snippets\/.*\/worker\/bootstrap\.js$/.test(f)), 'bootstrap.js missing');
  assert.ok(files.some((f) => /^pkg\/snippets\/.*\/worker\/host\.js$/.test(f)), 'host.js missing');
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('target/')), 'sources leaked into the package');
});

const setups = [
  { engine: 'chromium', coi: true, root: 'web' },
  { engine: 'chromium', coi: false, root: 'web' },
  { engine: 'firefox', coi: true, root: 'web' },
  { engine: 'chromium', coi: true, root: 'wasm-pack-web' },
];

for (const { engine, coi, root } of setups) {
  const from = root === 'web' ? 'npm pack' : 'wasm-pack build --target web';
  describe(`unbundled consumer of ${from}, ${engine}, cross-origin isolation ${coi ? 'on' : 'off'}`, () => {
    let server;
    let browser;
    let userDataDir;
    before(async () => {
      server = await serve({ root: path.join(work, root), port: 0, coi, csp: CSP });
      userDataDir = mkdtempSync(path.join(tmpdir(), 'wasm-isolates-profile-'));
      browser = await puppeteer.launch(launchOptions(engine === 'chromium' ? 'chrome' : 'firefox', userDataDir));
    });
    after(async () => {
      await browser?.close();
      await server?.close();
      rmSync(userDataDir, { recursive: true, force: true });
    });

    test('the JS API works as documented', async () => {
      const page = await browser.newPage();
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
      assert.match(r.fails.cause.stack, /task\.js/, 'the task\'s own stack survives');
      assert.equal(r.missing.name, 'IsolateTaskError');
      assert.match(r.missing.cause.message, /no exported function "nope"/);
      assert.equal(r.aborted.ok, false);
      assert.equal(r.aborted.name, 'AbortError');
      assert.equal(r.timedOut.name, 'IsolateTimeoutError');
      assert.deepEqual(r.afterFailures, { ok: true, value: 42 });
      assert.equal(r.stats.completed + r.stats.failed, 7);
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
