#!/usr/bin/env node
// `npm test`: every test of the project. A failing step is recorded and the run goes on; a
// summary table follows, then the phase times, then a line `N passed, N failed`; the exit code is
// 1 when any step failed.
//
//   npm test                                   # everything
//   npm test -- --only=native,wasm             # only some step groups (setup always runs)
//   npm test -- --engines=chrome,webkit        # only some browsers
//
// Step groups: native, wasm, wasm-pack, build, e2e (e2e builds www/pkg first; `build` alone just
// builds). Engines: chrome (Chromium), firefox (Firefox ESR), webkit (WebKitGTK's MiniBrowser).
//
// Two lanes run at once (docs/tests.md has the plan and the measured times):
// - the quiet lane, at normal priority, one step at a time: the wasm test builds (on a machine that
//   has the wasm32 target, alongside set-up), then, once the release build is done, the timing
//   cases of every wasm suite (module `timing::`: they count late event-loop turns and long
//   tasks, or race a task against the pool's timeout, which CPU contention can fail), then the
//   page tests that count long tasks;
// - the background lane, at idle CPU priority (SCHED_IDLE: a process there only gets a core that
//   nothing else wants, and yields it at once), two jobs at a time: the release build of www/pkg
//   and the page tests that need it but measure nothing contention could spoil; and, once the
//   quiet lane's builds are done, the native tests, every other case of the wasm suites, and the
//   wasm-pack runs.
// The quiet lane's output streams live; each background step's output is printed whole when it
// ends. Every step's full output is also in target/test-logs/.
//
// This file imports only node built-ins (and scripts/ files that do): on a fresh clone
// node_modules does not exist until setup ran.

import { spawn } from 'node:child_process';
import {
  accessSync, constants, copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync,
  readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFreshConnectionProxy } from './fresh-connection-proxy.mjs';
import { startXvfb, WEBKIT_DRIVER } from './webdriver-client.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GROUPS = ['native', 'wasm', 'wasm-pack', 'build', 'e2e'];
const ENGINES = ['chrome', 'firefox', 'webkit'];
const T0 = Date.now();
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
const LOGS = path.join(TARGET, 'test-logs');

// Browser capabilities for the wasm test runner. Firefox's prefs there set
// `network.http.keep-alive.timeout` to 1 s: against the runner's server (tiny-http, which keeps
// connections open indefinitely) Firefox now and then leaves a worker's module load waiting until
// an idle connection times out, 115 s by default. Seen as `spawn_and_drop_200_isolates` stuck on
// the glue's `import()` in about one run in five, and a whole suite past the runner's timeout in
// CI; with the pref the wait is at most a second. Our own server (Node's, 5 s keep-alive) and
// the page tests never showed it: 800 cold starts in Firefox, none over 341 ms.
const WEBDRIVER_JSON = path.join(ROOT, 'scripts', 'webdriver.json');
const CHROMEDRIVER = '/usr/bin/chromedriver';
// Chromium's twin of that stall has no pref: Chromium goes through a proxy that opens a fresh
// connection to the runner's server for every request (scripts/fresh-connection-proxy.mjs);
// its capabilities are webdriver.json's plus the proxy's flags, written to target/.
let chromeWebdriverJson = null;

async function chromeCapabilities() {
  const proxy = await startFreshConnectionProxy();
  const caps = JSON.parse(readFileSync(WEBDRIVER_JSON, 'utf8'));
  caps['goog:chromeOptions'].args.push(
    `--proxy-server=http://127.0.0.1:${proxy.port}`,
    // Without this Chromium never proxies loopback addresses (the runner serves on 127.0.0.1).
    '--proxy-bypass-list=<-loopback>',
  );
  mkdirSync(TARGET, { recursive: true });
  const file = path.join(TARGET, 'webdriver-chrome.json');
  writeFileSync(file, `${JSON.stringify(caps, null, 2)}\n`);
  return file;
}

// ---- arguments -------------------------------------------------------------------------------
function parseArgs(argv) {
  let only = null;
  let engines = [...ENGINES];
  const list = (value, known, what) => {
    const items = value.split(',').map((s) => s.trim()).filter(Boolean);
    for (const g of items) {
      if (!known.includes(g)) {
        console.error(`test.mjs: unknown ${what} "${g}" (known: ${known.join(', ')})`);
        process.exit(2);
      }
    }
    return items;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--only=') || a === '--only') {
      const value = a === '--only' ? argv[++i] ?? '' : a.slice('--only='.length);
      only ??= new Set();
      for (const g of list(value, GROUPS, 'step group')) only.add(g);
    } else if (a.startsWith('--engines=') || a === '--engines') {
      engines = list(a === '--engines' ? argv[++i] ?? '' : a.slice('--engines='.length), ENGINES, 'engine');
    } else if (a === '-h' || a === '--help') {
      console.log(`usage: node scripts/test.mjs [--only=${GROUPS.join(',')}] [--engines=${ENGINES.join(',')}]`);
      process.exit(0);
    } else {
      console.error(`test.mjs: unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (only?.has('e2e')) only.add('build');
  return { only, engines }; // only: null = all
}
const { only, engines } = parseArgs(process.argv.slice(2));
const wanted = (group) => only === null || only.has(group);

// ---- environment -----------------------------------------------------------------------------
const cargoBin = path.join(process.env.CARGO_HOME ?? path.join(homedir(), '.cargo'), 'bin');
const pathParts = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
if (!pathParts.includes(cargoBin)) pathParts.unshift(cargoBin);
process.env.PATH = pathParts.join(path.delimiter);

function which(cmd) {
  for (const dir of process.env.PATH.split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

// The background lane's priority: SCHED_IDLE where util-linux's chrt exists (Debian: always),
// else the lowest nice level. Children (cargo's rustc, a driver's browser) inherit it.
const IDLE_PREFIX = which('chrt') ? ['chrt', '--idle', '0'] : which('nice') ? ['nice', '-n', '19'] : [];

// Variables that would make the wasm test runner pick another browser, go remote or leave
// headless mode, or that the suites read at compile time.
const RUNNER_VARS = [
  'CHROMEDRIVER', 'GECKODRIVER', 'SAFARIDRIVER', 'MSEDGEDRIVER',
  'CHROMEDRIVER_REMOTE', 'GECKODRIVER_REMOTE', 'SAFARIDRIVER_REMOTE', 'MSEDGEDRIVER_REMOTE',
  'CHROMEDRIVER_ARGS', 'GECKODRIVER_ARGS', 'SAFARIDRIVER_ARGS', 'MSEDGEDRIVER_ARGS',
  'WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION', 'WASM_BINDGEN_TEST_ADDRESS', 'NO_HEADLESS',
  'WASM_ISOLATES_EXPECT_ENGINE', 'WASM_ISOLATES_EXPECT_COI', 'WASM_ISOLATES_EXPECT_SAB',
];

// The wasm test builds carry no DWARF: a suite's .wasm is 7.5 MB instead of 40 MB, which halves
// what every runner invocation spends before the first test (wasm-bindgen on the file, the
// browser fetching and compiling it: 5.5 s instead of 11–14 s for the smoke suite). Panics still
// name their file and line, and stacks their functions (the name section stays). They are also
// built at opt-level 1: a suite then runs in about two thirds of the time (Chromium, isolated:
// 17.7 s instead of 27.0 s worker-hosted, 26.5 s instead of 37.7 s page-hosted; the JSON cases
// parse megabytes, and every isolate compiles a 6 MB module instead of a 10 MB one), for about
// 35 s more compiling from scratch and 4 s more per mode (2026-11-28). Every cargo command for
// wasm32 here sets both, so they share one build. The native tests use it too (see below).
const WASM_TEST_PROFILE = { CARGO_PROFILE_DEV_DEBUG: '0', CARGO_PROFILE_DEV_OPT_LEVEL: '1' };
const WASM_FEATURES = ['--features', 'gloo'];

// Which cases of a wasm suite run where. The cases of the suites' `timing` module
// (tests/common/mod.rs) have outcomes that contention alone can change: `timing::frames` counts
// late event-loop turns and long tasks; `timing::deadlines` races tasks against the pool's timeout
// (at idle priority a browser can wait for a core longer than a 500 ms timeout — seen: a task meant
// to panic timed out in the pool soak, 2026-11-27 in WebKit and 2026-11-28 in Chromium). They run in
// the quiet lane, one runner invocation (so one fresh page) per module, suite and mode
// (`wasm-bindgen-test-runner FILE timing::frames::`): the frames cases saw a long task in each
// attempt when they ran in the page the soak had run in. Every other case runs in the background
// lane (`--skip timing::`). A new case of either kind goes in that module.
const TIMING_MODULES = ['frames', 'deadlines'];
// Cases the worker-hosted suite (tests/in_worker.rs) leaves to the page-hosted one: what they
// exercise does not depend on who calls. The pool soak drives the pool's state machine 1,000
// times, the parts test the JSON service's cutting of one document, the SIMD test compares two
// scans of the same bytes in the test's own thread; they are the three longest cases (6.4, 6.3
// and 1.4 s in Firefox) and run in all six page-hosted modes.
const PAGE_ONLY_CASES = ['soak_pool_with_fault_injection', 'json_parse_columns_in_parts_equals_one_isolate', 'json_simd_scans_match_scalar'];

/**
 * What the suites assert about their mode (tests/common/mod.rs `assert_expected_mode`): the
 * engine, cross-origin isolation, and SharedArrayBuffer — which isolation implies in Chromium and
 * Firefox but not in WebKitGTK 2.50 (isolated, no SharedArrayBuffer). Written into each mode's
 * copy of the runner's binaries (`modeCopies`); wasm-pack builds its own, which read these
 * variables at compile time.
 */
function expectEnv(engine, coi) {
  return {
    WASM_ISOLATES_EXPECT_ENGINE: engine,
    WASM_ISOLATES_EXPECT_COI: coi ? '1' : '0',
    WASM_ISOLATES_EXPECT_SAB: coi && engine !== 'webkit' ? '1' : '0',
  };
}

function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const v of RUNNER_VARS) delete env[v];
  return { ...env, ...extra };
}

/** Environment for one browser run of the wasm tests (build and runner). */
function browserEnv(engine, coi) {
  const env = cleanEnv({ ...WASM_TEST_PROFILE, ...expectEnv(engine, coi) });
  if (engine === 'chrome') {
    env.CHROMEDRIVER = CHROMEDRIVER;
    env.WASM_BINDGEN_TEST_WEBDRIVER_JSON = chromeWebdriverJson;
  } else if (engine === 'firefox') {
    env.GECKODRIVER = geckodriver() ?? 'geckodriver-not-found';
    env.WASM_BINDGEN_TEST_WEBDRIVER_JSON = WEBDRIVER_JSON;
  } else {
    // The runner drives WebKitGTK's driver through its safaridriver path: it starts the driver
    // with `--port=N` and asks for a session with empty capabilities (it sends webdriver.json only
    // to chromedriver, geckodriver and msedgedriver), which WebKitWebDriver answers with its
    // built-in default browser, MiniBrowser --automation. MiniBrowser needs an X display.
    // Through scripts/webkit-driver.mjs, which starts WebKitWebDriver and points the page's URL
    // at a proxy with a fresh connection per request: without it a WebKit invocation idled about
    // 60 s before its page reported (the runner's server stall; docs/tests.md).
    env.SAFARIDRIVER = path.join(ROOT, 'scripts', 'webkit-driver.mjs');
    env.WEBKIT_WEBDRIVER_BIN = WEBKIT_DRIVER;
    if (xvfb) env.DISPLAY = xvfb.display;
  }
  // A whole suite under load (2 cores, 200 isolates spawned in one case) can take minutes.
  env.WASM_BINDGEN_TEST_TIMEOUT = '400';
  if (!coi) env.WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION = '1';
  return env;
}

// ---- running steps ---------------------------------------------------------------------------
const results = [];
const since = (t) => (t - T0) / 1000;

/**
 * Runs one step; resolves with whether it passed. `phase` names the row of the phase table it
 * counts in. In the background lane the command runs at idle priority and its output is printed
 * whole when it ends; in the quiet lane it streams.
 */
async function runStep(name, cmd, args, { env = process.env, phase, background = false, buffered = background, capture = false } = {}) {
  const banner = `== ${name}: ${[cmd, ...args].join(' ')}`;
  const rule = '='.repeat(Math.min(banner.length, 100));
  const head = `\n${rule}\n${banner}${background ? '   [background lane, idle priority]' : ''}\n${rule}\n`;
  const started = Date.now();
  if (!buffered) process.stdout.write(head);
  const full = background ? [...IDLE_PREFIX, cmd, ...args] : [cmd, ...args];
  const attempt = await runChild(full[0], full.slice(1), env, { name, stream: !buffered, capture });
  const ended = Date.now();
  const secs = (ended - started) / 1000;
  let detail = attempt.detail;
  if (!attempt.ok && pageNeverReported(attempt.output)) {
    detail = `${detail}; the page never reported a test (see "A wasm run hangs" in docs/tests.md)`;
  }
  results.push({ name, ok: attempt.ok, secs, detail, phase, lane: background ? 'background' : 'quiet', start: since(started), end: since(ended) });
  const line = `\n-- ${name}: ${attempt.ok ? 'PASS' : 'FAIL'}${detail ? ` (${detail})` : ''} in ${secs.toFixed(1)} s\n`;
  if (buffered) process.stdout.write(`${head}${attempt.output}${attempt.truncated ? '\n[... output truncated here; the whole of it is in the log file]\n' : ''}${line}`);
  else process.stdout.write(line);
  return attempt;
}

const slug = (name) => name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase();

/**
 * Runs a child; resolves {ok, detail, output (the last 256 KiB), stdout (all of it, with
 * `capture`: then stdout is not shown)}. Everything also goes to target/test-logs/<name>.log.
 */
function runChild(cmd, args, env, { name, stream, capture }) {
  return new Promise((resolve) => {
    mkdirSync(LOGS, { recursive: true });
    const log = createWriteStream(path.join(LOGS, `${slug(name)}.log`));
    let output = '';
    let truncated = false;
    let stdout = '';
    const keep = (chunk, to, isStdout) => {
      log.write(chunk);
      if (isStdout && capture) {
        stdout += chunk.toString('utf8');
        return;
      }
      if (stream) to.write(chunk);
      output += chunk.toString('utf8');
      if (output.length > 262144) {
        output = output.slice(-262144);
        truncated = true;
      }
    };
    const finish = (result) => log.end(() => resolve({ output, truncated, stdout, ...result }));
    let child;
    try {
      child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      finish({ ok: false, detail: `could not start: ${err.message}` });
      return;
    }
    child.stdout.on('data', (c) => keep(c, process.stdout, true));
    child.stderr.on('data', (c) => keep(c, process.stderr, false));
    child.on('error', (err) => finish({ ok: false, detail: `could not start ${cmd}: ${err.message}` }));
    child.on('close', (code, signal) => {
      if (code === 0) finish({ ok: true, detail: '' });
      else finish({ ok: false, detail: signal ? `killed by ${signal}` : `exit ${code}` });
    });
  });
}

/**
 * Whether a failed wasm run failed because the runner's page never reported anything: nothing
 * after "Running", and the runner could not detect a single test. Seen in Chromium before the
 * fresh-connection proxy (a request left unanswered for 300 s on a reused keep-alive connection
 * to the runner's tiny-http server; docs/tests.md). Only named in the summary, never retried.
 */
function pageNeverReported(output) {
  return output.includes('Failed to detect test as having been run')
    && !/^test .+ \.\.\. /m.test(output)
    && !/test result:/.test(output);
}

function recordFailure(name, detail, phase, lane = 'quiet') {
  results.push({ name, ok: false, secs: 0, detail, phase, lane, start: since(Date.now()), end: since(Date.now()) });
  console.log(`\n-- ${name}: FAIL (${detail})`);
}

// Ctrl-C reaches the children too (they share our process group); then stop.
process.on('SIGINT', () => {
  console.log('\ninterrupted');
  process.exit(130);
});

/** A promise with its resolve function outside. */
function gate() {
  let open;
  const promise = new Promise((resolve) => { open = resolve; });
  return { promise, open };
}

// ---- the wasm test builds --------------------------------------------------------------------

/**
 * Builds the wasm test binaries once, for every mode: cargo keeps one build of the library per
 * set of features, so every wasm32 cargo command of the run passes `--features gloo` (the
 * gloo-worker interop cases are part of the page-hosted suite) and a command with another set
 * would compile it again. `--test '*'` builds the integration tests only: `--tests` also built
 * the library's own unit tests for wasm32, a second compile of the whole library that no runner
 * step runs (its cases run natively), 28 of 142 CPU seconds (2026-11-28), at the start of the
 * run, where every step waits for this build; wasm-pack builds it later, in the background (see
 * wasmPackJobs). Resolves with [{name, file}]
 * (cargo's output files) or null when the build failed.
 */
async function buildWasmTests() {
  const args = ['test', '--target', 'wasm32-unknown-unknown', '--no-run', '--message-format=json-render-diagnostics', '--test', '*', ...WASM_FEATURES];
  const r = await runStep('build: wasm tests', 'cargo', args, { env: cleanEnv(WASM_TEST_PROFILE), phase: 'wasm test builds', capture: true });
  if (!r.ok) return null;
  const out = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const m = JSON.parse(line);
    if (m.reason !== 'compiler-artifact' || !m.executable || !m.target.kind.includes('test')) continue;
    // wasm_pack_smoke is what the wasm-pack steps run (its three cases are in every suite too).
    if (m.target.name === 'wasm_pack_smoke') continue;
    out.push({ name: m.target.name, file: m.executable });
  }
  return out;
}

// The suites assert the mode they run in (tests/common/mode.rs): the binaries are built once and
// each mode's copy, in target/wasm-tests/<mode>/, carries its expectation in the payload after
// this prefix (which the Rust side declares once; a second occurrence would make the patch
// ambiguous, so it is refused).
const MODE_PREFIX = Buffer.from('wasm-isolates:expected-mode:v1:\0', 'latin1');
const MODE_PAYLOAD_LEN = 40;

/** `payload` written over the expectation of the wasm file `bytes`; throws unless found once. */
function patchExpectedMode(bytes, payload) {
  const at = bytes.indexOf(MODE_PREFIX);
  if (at < 0) throw new Error('the expected-mode marker of tests/common/mode.rs is not in the binary');
  if (bytes.indexOf(MODE_PREFIX, at + 1) >= 0) throw new Error('the expected-mode marker occurs twice in the binary');
  if (payload.length > MODE_PAYLOAD_LEN) throw new Error(`expected-mode payload longer than ${MODE_PAYLOAD_LEN} bytes: ${payload}`);
  const out = Buffer.from(bytes);
  out.write(payload.padEnd(MODE_PAYLOAD_LEN, ' '), at + MODE_PREFIX.length, 'latin1');
  return out;
}

/**
 * One mode's copy of the suites, in target/wasm-tests/<mode>/, with the mode it must assert
 * written in: the engine, cross-origin isolation, and SharedArrayBuffer — which isolation implies
 * in Chromium and Firefox but not in WebKitGTK 2.50 (isolated, no SharedArrayBuffer).
 * Resolves with [{name, file}], or null (with a failed step) when a binary cannot be patched.
 */
function modeCopies(engine, coi, built) {
  if (!built) return null;
  const dir = path.join(TARGET, 'wasm-tests', `${engine}-${coi ? 'coi' : 'no-coi'}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const e = expectEnv(engine, coi);
  const payload = `engine=${e.WASM_ISOLATES_EXPECT_ENGINE};coi=${e.WASM_ISOLATES_EXPECT_COI};sab=${e.WASM_ISOLATES_EXPECT_SAB}`;
  try {
    return built.map(({ name, file }) => {
      const copy = path.join(dir, `${name}.wasm`);
      writeFileSync(copy, patchExpectedMode(readFileSync(file), payload));
      return { name, file: copy };
    });
  } catch (err) {
    recordFailure(`build: wasm tests, ${describeMode(engine, coi)}`, err.message, 'wasm test builds', 'quiet');
    return null;
  }
}

const describeMode = (engine, coi) => `${engine}, isolation ${coi ? 'on' : 'off'}`;

// ---- the plan --------------------------------------------------------------------------------
// The wasm test builds need only the wasm32 target of what set-up installs, so they start with
// set-up: on a fresh machine the target is added first (a download of a few seconds), and the
// builds then share the cores with set-up's `cargo install`s while apt-get and npm wait on the
// network and the disk. Everything else waits for set-up.
const hasTarget = () => new Promise((resolve) => {
  const child = spawn('rustup', ['target', 'list', '--installed'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.on('error', () => resolve(false));
  child.on('close', () => resolve(out.split('\n').includes('wasm32-unknown-unknown')));
});
let targetReady = wanted('wasm') && await hasTarget();
if (wanted('wasm') && !targetReady) {
  const r = await runStep('setup: rust target wasm32-unknown-unknown', 'rustup', ['target', 'add', 'wasm32-unknown-unknown'], { phase: 'setup' });
  targetReady = r.ok;
}
const setupDone = gate();
const setupStep = (async () => {
  await runStep('setup', 'bash', [path.join('scripts', 'setup.sh'), 'test'], { phase: 'setup', buffered: targetReady });
  setupDone.open();
})();
if (!targetReady) await setupDone.promise;

const geckodriver = () => which('geckodriver'); // looked up after set-up, which may install it
const wasmModes = engines.flatMap((engine) => [true, false].map((coi) => [engine, coi]));
let xvfb = null;
let xvfbError = null;
const browsersReady = (async () => {
  await setupDone.promise;
  if ((wanted('wasm') || wanted('wasm-pack')) && engines.includes('chrome')) chromeWebdriverJson = await chromeCapabilities();
  if ((wanted('wasm') || wanted('wasm-pack') || wanted('e2e')) && engines.includes('webkit')) {
    try {
      xvfb = await startXvfb();
    } catch (err) {
      xvfbError = err.message;
    }
  }
})();

/** Why `engine` cannot run here, or null. */
function missingBrowser(engine) {
  if (engine === 'firefox' && !geckodriver()) return `geckodriver not found on PATH (${process.env.PATH})`;
  if (engine === 'webkit' && !existsSync(WEBKIT_DRIVER)) return `${WEBKIT_DRIVER} not found (apt-get install webkit2gtk-driver)`;
  if (engine === 'webkit' && !xvfb) return `no X display for MiniBrowser: ${xvfbError}`;
  return null;
}

const wasmBuilt = gate(); // the quiet lane's cargo builds are done: the debug build dirs are free
const wwwBuilt = gate(); // resolves with whether www/pkg was built

// e2e files whose assertions hold under CPU contention may run in the background lane:
// consumers, trace reader and bench docs measure nothing; page.test.mjs checks that the probe saw
// a main-thread sort as blocking, which contention can only make longer; json-conformance compares
// values with JSON.parse; js-isolates' one timed check (a paused isolate holds a message 300 ms)
// only gets safer when the isolate is slower. Every other file
// (json.test.mjs counts long tasks; any new file until someone says otherwise) runs in the quiet
// lane.
const E2E_BACKGROUND = new Set(['consumers.test.mjs', 'trace.test.mjs', 'bench-docs.test.mjs', 'page.test.mjs', 'json-conformance.test.mjs', 'js-isolates.test.mjs']);
const e2eDir = path.join(ROOT, 'tests', 'e2e');
const e2eFiles = existsSync(e2eDir) ? readdirSync(e2eDir).filter((f) => f.endsWith('.test.mjs')).sort() : [];

async function e2eStep(name, files, background) {
  const phase = `page tests (${background ? 'background' : 'quiet'})`;
  if (!(await wwwBuilt.promise)) {
    recordFailure(name, 'not run: the www build failed', phase, background ? 'background' : 'quiet');
    return;
  }
  if (files.length === 0) return;
  const env = cleanEnv({ WASM_ISOLATES_E2E_ENGINES: engines.join(',') });
  if (xvfb) env.DISPLAY = xvfb.display;
  // One file at a time: each drives real browsers.
  await runStep(name, process.execPath, ['--test', '--test-concurrency=1', ...files.map((f) => path.join('tests', 'e2e', f))], { env, phase, background });
}

/**
 * The runner's arguments for one suite file: the cases of one `timing` module only (quiet lane),
 * or every case outside `timing` (background lane); worker-hosted, never the page-only ones.
 */
function suiteArgs(suite, timingModule) {
  const args = timingModule ? [`timing::${timingModule}::`] : ['--skip', 'timing::'];
  if (suite === 'in_worker') for (const name of PAGE_ONLY_CASES) args.push('--skip', name);
  return args;
}

/**
 * The wasm suite runs of one mode (`files` from its build). In the background lane, one step per
 * suite file; in the quiet lane, one per timing module and suite file (gloo's has no timing cases).
 */
function suiteSteps({ engine, coi, files }, { quiet }) {
  const phase = quiet ? 'wasm timing cases (quiet)' : 'wasm suites (background)';
  const lane = quiet ? 'quiet' : 'background';
  const name = `wasm: ${describeMode(engine, coi)}`;
  const missing = missingBrowser(engine);
  if (missing) return [() => recordFailure(name, missing, phase, lane)];
  if (!files) return [() => recordFailure(name, 'not run: its build failed', phase, lane)];
  const runs = quiet
    ? TIMING_MODULES.flatMap((module) => files.filter(({ name: suite }) => suite !== 'gloo').map((f) => ({ ...f, module })))
    : files.map((f) => ({ ...f, module: null }));
  return runs.map(({ name: suite, file, module }) => () => runStep(`${name}, ${module ? `timing::${module}, ` : ''}${suite}`,
    'wasm-bindgen-test-runner', [path.relative(ROOT, file), ...suiteArgs(suite, module)],
    { env: browserEnv(engine, coi), phase, background: !quiet }));
}

/**
 * The background lane's jobs run BACKGROUND_JOBS at a time, in the order they were queued, each
 * once what it needs is there. Its processes run at idle priority, so however many run, the quiet
 * lane's browsers never wait for a core; two at a time keep both cores busy while one waits on a
 * browser (a suite spends much of its time waiting for timers and workers).
 */
const BACKGROUND_JOBS = Number(process.env.WASM_ISOLATES_TEST_JOBS ?? 2) || 2;
const backgroundQueue = [];
let backgroundRunning = 0;
const backgroundIdle = gate();
let backgroundPending = 0;
function pump() {
  while (backgroundRunning < BACKGROUND_JOBS && backgroundQueue.length > 0) {
    const job = backgroundQueue.shift();
    backgroundRunning++;
    (async () => {
      try {
        await job();
      } catch (err) {
        recordFailure('background job', `crashed: ${err?.stack ?? err}`, 'background', 'background');
      }
      backgroundRunning--;
      backgroundPending--;
      if (backgroundPending === 0) backgroundIdle.open();
      pump();
    })();
  }
}
/**
 * Queues `jobs` (functions returning promises) once `after` has resolved; with `first`, ahead of
 * the jobs already waiting (for the long ones that become ready late).
 */
function background(after, jobs, { first = false } = {}) {
  backgroundPending += jobs.length;
  after.then(() => {
    if (first) backgroundQueue.unshift(...jobs);
    else backgroundQueue.push(...jobs);
    pump();
  });
}

// The quiet lane: the wasm test builds, then the timing cases of every suite, then the page tests
// that count long tasks.
const modeBuilds = [];
const quiet = (async () => {
  if (wanted('wasm')) {
    const built = await buildWasmTests();
    for (const [engine, coi] of wasmModes) modeBuilds.push({ engine, coi, files: modeCopies(engine, coi, built) });
  }
  wasmBuilt.open();
  await browsersReady;
  // The timing cases wait for the release build of www/pkg (and the native tests' compile, which
  // ends before it): compiling at idle priority still cost the cases their quiet — Chromium saw
  // one long task in each of three attempts of the 60 MB typed sequence twice, only while rustc
  // ran (2026-11-27); after the build they share the cores with browser tests, as the page tests
  // always did. The quiet lane stays off the critical path (the background lane ends later).
  await wwwBuilt.promise;
  if (wanted('wasm')) {
    for (const mode of modeBuilds) for (const step of suiteSteps(mode, { quiet: true })) await step();
  }
  if (wanted('e2e')) {
    await e2eStep('e2e: page tests that count long tasks', e2eFiles.filter((f) => !E2E_BACKGROUND.has(f)), false);
  }
})();

// The background lane. Queued first, so started first: the release build (its own build dirs, so
// it need not wait for the quiet lane's debug builds) and the page tests that need it, the
// longest job; then, once the quiet lane's cargo builds are done (they hold the debug build
// dirs), the native tests, the wasm suites' other cases and the wasm-pack runs.
background(browsersReady, [async () => {
  if (wanted('build')) {
    const r = await runStep('build: www/pkg (release)', process.execPath, [path.join('scripts', 'build.mjs')], { phase: 'www build', background: true });
    wwwBuilt.open(r.ok);
  } else {
    wwwBuilt.open(true);
  }
}]);
if (wanted('e2e')) {
  // Two jobs: the npm consumers (npm pack, wasm-pack, Vite and webpack builds, then 20 pages) are
  // the longest; the other files share the second. Neither writes what the other reads.
  const files = e2eFiles.filter((f) => E2E_BACKGROUND.has(f));
  const consumers = files.filter((f) => f === 'consumers.test.mjs');
  const others = files.filter((f) => f !== 'consumers.test.mjs');
  background(wwwBuilt.promise, [
    () => e2eStep('e2e: npm consumers', consumers, true),
    () => e2eStep('e2e: demo page, JSON conformance, JS isolates, trace reader, bench docs', others, true),
  ], { first: true });
}
const debugDirsFree = Promise.all([wasmBuilt.promise, browsersReady]);
if (wanted('native')) {
  // The wasm builds' profile here too: the native suite's fuzz and differential cases then run in
  // 1.5 s instead of 18 s, for 42 CPU seconds from scratch instead of 54 (2026-11-28).
  background(debugDirsFree, [() => runStep('native: cargo test', 'cargo', ['test'], { env: cleanEnv(WASM_TEST_PROFILE), phase: 'native tests', background: true })]);
}
// The wasm-pack runs, one job for both engines, one after the other (wasm-pack drives
// chromedriver and geckodriver only: it has no WebKitGTK option). Not two jobs: `wasm-pack test`
// first runs `cargo build --tests`, which also builds the library's unit-test target (the suites'
// build leaves it out, see buildWasmTests), about 25 CPU seconds; run one after the other, the
// second engine finds it built (1.4 s), while two at once each compiled for 29–48 s (2026-11-28).
function wasmPackJobs() {
  const wasmPack = which('wasm-pack');
  return [async () => {
    for (const engine of engines.filter((e) => e !== 'webkit')) {
      const name = `wasm-pack: ${engine}`;
      const missing = !wasmPack ? 'wasm-pack not found on PATH' : missingBrowser(engine);
      if (missing) {
        recordFailure(name, missing, 'wasm-pack', 'background');
        continue;
      }
      // The smoke suite proves the wasm-pack host; the full suites ran under the runner. The
      // features are the other wasm32 builds' (see WASM_FEATURES), so only the smoke crate is
      // compiled again, for the mode it asserts (expectEnv, read at compile time).
      const driver = engine === 'chrome' ? ['--chrome', '--chromedriver', CHROMEDRIVER] : ['--firefox', '--geckodriver', geckodriver()];
      await runStep(name, wasmPack, ['test', '--headless', ...driver, '--', ...WASM_FEATURES, '--test', 'wasm_pack_smoke'], { env: browserEnv(engine, true), phase: 'wasm-pack', background: true });
    }
  }];
}
// One job per suite run, so that the lane ends on short jobs rather than a long one alone on two
// cores: the isolated modes' page-hosted suites first (the longest: every case that spawns
// isolates runs there), then their worker-hosted ones, the wasm-pack job, and the non-isolated
// modes' suites last (the shortest).
if (wanted('wasm') || wanted('wasm-pack')) {
  background(debugDirsFree, [() => {
    const suites = (coi) => modeBuilds.filter((m) => m.coi === coi)
      .flatMap((m) => suiteSteps({ ...m, files: m.files && [...m.files].sort((a, b) => a.name.localeCompare(b.name)) }, { quiet: false }));
    background(Promise.resolve(), [
      ...(wanted('wasm') ? suites(true) : []),
      ...(wanted('wasm-pack') ? wasmPackJobs() : []),
      ...(wanted('wasm') ? suites(false) : []),
    ], { first: true });
  }]);
}
if (backgroundPending === 0) backgroundIdle.open();

await Promise.all([setupStep, quiet, backgroundIdle.promise]);
await xvfb?.close();

// ---- summary ---------------------------------------------------------------------------------
const total = since(Date.now());
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
const width = Math.max(4, ...results.map((r) => r.name.length));
console.log('\nSummary');
console.log(`${'step'.padEnd(width)}  lane        result  seconds  detail`);
console.log(`${'-'.repeat(width)}  ----------  ------  -------  ------`);
for (const r of results) {
  console.log(`${r.name.padEnd(width)}  ${r.lane.padEnd(10)}  ${(r.ok ? 'PASS' : 'FAIL').padEnd(6)}  ${r.secs.toFixed(1).padStart(7)}  ${r.detail ?? ''}`);
}

// A phase spans its steps, from the first start to the last end, in seconds since npm test began.
const phases = new Map();
for (const r of results) {
  const p = phases.get(r.phase) ?? { lane: r.lane, start: r.start, end: r.end, busy: 0, steps: 0 };
  p.start = Math.min(p.start, r.start);
  p.end = Math.max(p.end, r.end);
  p.busy += r.secs;
  p.steps++;
  phases.set(r.phase, p);
}
const pw = Math.max(5, ...[...phases.keys()].map((k) => k.length));
console.log(`\nPhases (seconds since the start; the lanes overlap)\n${'phase'.padEnd(pw)}  lane        from      to   steps  in steps`);
for (const [name, p] of [...phases].sort((a, b) => a[1].start - b[1].start)) {
  console.log(`${name.padEnd(pw)}  ${p.lane.padEnd(10)}  ${p.start.toFixed(0).padStart(4)}  ${p.end.toFixed(0).padStart(6)}  ${String(p.steps).padStart(6)}  ${p.busy.toFixed(0).padStart(6)} s`);
}
const wholeSeconds = Math.round(total);
console.log(`total: ${Math.floor(wholeSeconds / 60)} min ${wholeSeconds % 60} s wall`);

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
