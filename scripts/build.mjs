#!/usr/bin/env node
// Build the wasm package into www/pkg (the demo) or, with `--out pkg`, into pkg/ (the npm package):
//   cargo build --release --target wasm32-unknown-unknown --lib
//   wasm-bindgen --target web --out-dir www/pkg --out-name wasm_isolates target/wasm32-unknown-unknown/release/wasm_isolates.wasm
// then writes the package's entry, index.js + index.d.ts: the glue's exports plus the error
// classes of worker/errors.js (a snippet, whose exports wasm-bindgen cannot re-export itself),
// and worker.js + worker.d.ts, the `wasm-isolates/worker` export (`serve`).
// A release build is then optimized with wasm-opt -O3, binaryen's inlining skipped (see `optimize`;
// `--no-wasm-opt` skips it).
// Runnable as `node scripts/build.mjs [--dev] [--out DIR] [--features=a,b] [--no-wasm-opt]` (`npm run build`) or
// importable: `await build()`.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** PATH with `$HOME/.cargo/bin` (cargo-installed wasm-bindgen, geckodriver, wasm-pack) in front. */
export function cargoPath(envPath = process.env.PATH ?? '') {
  const cargoBin = path.join(process.env.CARGO_HOME ?? path.join(homedir(), '.cargo'), 'bin');
  const parts = envPath.split(path.delimiter).filter(Boolean);
  return parts.includes(cargoBin) ? envPath : [cargoBin, ...parts].join(path.delimiter);
}

/** Run a command with inherited stdio; resolves with its exit code (never rejects on a non-zero exit). */
export function run(cmd, args, { cwd = ROOT, env = process.env } = {}) {
  return new Promise((resolve) => {
    console.log(`\n$ ${[cmd, ...args].join(' ')}`);
    const child = spawn(cmd, args, { cwd, env: { ...env, PATH: cargoPath(env.PATH) }, stdio: 'inherit' });
    child.on('error', (err) => {
      console.error(`failed to start ${cmd}: ${err.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Build the wasm package into `outDir` (default www/pkg; `npm pack` builds pkg/). Throws when a step fails. */
/**
 * Runs binaryen's `wasm-opt -O3` on the bindgen'd module in place, without binaryen's own
 * inlining. It comes from the npm package `binaryen` (a dev-dependency; nothing is downloaded at
 * build time), because Debian's binaryen is too old for what rustc emits and wasm-pack's own
 * would be a download. Why these flags (docs/design.md, "Size"): -O3 and -Oz give the same size;
 * binaryen's inlining (`inlining-optimizing`) saves 1 % raw but costs 7 % gzip (measured; the
 * likely cause: inlined copies make alike monomorphized functions differ, which gzip then cannot
 * share), and without it the parse speed is unchanged within the noise of our machines (LLVM at
 * opt-level 3 has already inlined the hot path).
 * The features are the ones rustc enables by default for wasm32-unknown-unknown.
 */
async function optimize(file) {
  const bin = path.join(ROOT, 'node_modules', '.bin', 'wasm-opt');
  if (!existsSync(bin)) throw new Error('node_modules/.bin/wasm-opt is missing: run scripts/setup.sh build (npm ci)');
  const features = ['bulk-memory', 'nontrapping-float-to-int', 'sign-ext', 'mutable-globals', 'reference-types', 'multivalue'];
  const args = ['-O3', '--skip-pass=inlining-optimizing', ...features.map((f) => `--enable-${f}`)];
  // The same input gives the same output: keep it, by the input's hash and the flags. `npm test`
  // builds www/pkg and then pkg/ (`npm pack`'s prepack) from one cargo build, and wasm-opt is the
  // slow step of a cached build (10–20 s on 2 cores).
  const version = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'binaryen', 'package.json'), 'utf8')).version;
  const key = createHash('sha256').update(readFileSync(file)).update(JSON.stringify([version, args])).digest('hex');
  const cacheDir = path.join(process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target'), 'wasm-opt-cache');
  const cached = path.join(cacheDir, `${key}.wasm`);
  if (existsSync(cached)) {
    copyFileSync(cached, file);
    return;
  }
  const code = await run(bin, [...args, file, '-o', file]);
  if (code !== 0) throw new Error(`wasm-opt failed (exit ${code})`);
  // Keep the three latest besides this one (the package's, the bench's, a --dev... build).
  mkdirSync(cacheDir, { recursive: true });
  const older = readdirSync(cacheDir).map((f) => path.join(cacheDir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const old of older.slice(3)) rmSync(old, { force: true });
  copyFileSync(file, cached);
}

export async function build({
  profile = 'release', outDir = path.join('www', 'pkg'), features = [], defaultFeatures = true, targetDir = null, wasmOpt = true, entry = true,
} = {}) {
  const cargoArgs = ['build', '--target', 'wasm32-unknown-unknown', '--lib'];
  // `bench` adds the hidden __bench* exports that `npm run bench` measures through; the package
  // and the demo are built without it. The bench's size rows build other feature sets, each in a
  // target dir of its own (`targetDir`), so that no build undoes another's.
  if (!defaultFeatures) cargoArgs.push('--no-default-features');
  if (features.length) cargoArgs.push('--features', features.join(','));
  if (profile === 'release') cargoArgs.splice(1, 0, '--release');
  const env = targetDir ? { ...process.env, CARGO_TARGET_DIR: targetDir } : process.env;
  let code = await run('cargo', cargoArgs, { env });
  if (code !== 0) throw new Error(`cargo build failed (exit ${code})`);

  const target = env.CARGO_TARGET_DIR ? path.resolve(ROOT, env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
  const wasm = path.join(target, 'wasm32-unknown-unknown', profile === 'release' ? 'release' : 'debug', 'wasm_isolates.wasm');
  if (!existsSync(wasm)) throw new Error(`${path.relative(ROOT, wasm)} was not produced by cargo build`);
  code = await run('wasm-bindgen', ['--target', 'web', '--out-dir', outDir, '--out-name', 'wasm_isolates', path.relative(ROOT, wasm)]);
  if (code !== 0) throw new Error(`wasm-bindgen failed (exit ${code})`);
  if (profile === 'release' && wasmOpt) await optimize(path.join(outDir, 'wasm_isolates_bg.wasm'));
  if (!entry) return;
  await writeEntry(path.resolve(ROOT, outDir));
  console.log(`\nbuilt ${outDir}/wasm_isolates.js + wasm_isolates_bg.wasm, and ${outDir}/index.js (the entry)`);
}

/** The error classes worker/errors.js exports, as index.d.ts declares them. */
const ERROR_CLASSES_DTS = `/**
 * The base class of every error wasm-isolates rejects with, except aborts (a \`DOMException\`
 * named \`AbortError\`, as the platform's). Used as is for a closed pool or document, a full
 * queue, or a call before \`init()\`.
 */
export declare class IsolateError extends Error {
    constructor(message?: string, options?: { cause?: unknown });
}

/** A task panicked; its isolate was replaced. */
export declare class IsolatePanicError extends IsolateError {
    constructor(message?: string, options?: { location?: string | null; cause?: unknown });
    /** Where the panic happened, \`file:line:column\`, or null when unknown. */
    location: string | null;
}

/** The isolate's worker died, or raised an uncaught error while the task ran. */
export declare class IsolateWorkerError extends IsolateError {
    /** The isolate's own JS stack, when the engine reported one. */
    cause?: string;
}

/** An isolate could not start (its script or the glue did not load, or instantiation failed). */
export declare class IsolateStartError extends IsolateError {}

/** A value could not be encoded or decoded, or a message was malformed. */
export declare class IsolateDataError extends IsolateError {}

/**
 * Malformed JSON, or a JSON pointer naming no value of the right kind (the three positions are
 * null then).
 */
export declare class JsonError extends IsolateError {
    constructor(message?: string, options?: { offset?: number | null; byteOffset?: number | null; line?: number | null; column?: number | null; cause?: unknown });
    /** Offset of the error in the source's units: UTF-16 code units for a string, bytes otherwise. */
    offset: number | null;
    /** Offset of the error in bytes of the UTF-8 text (equals \`offset\` for byte sources). */
    byteOffset: number | null;
    /** 1-based line of the error. */
    line: number | null;
    /** 1-based column of the error, in the source's units (as \`offset\`). */
    column: number | null;
}

/** The host lacks what the call needs (module workers, \`SharedArrayBuffer\`, ...). */
export declare class IsolateUnsupportedError extends IsolateError {}

/** The task ran past the pool's \`taskTimeout\`; its isolate was replaced. */
export declare class IsolateTimeoutError extends IsolateError {}

/** A JS task threw, or its module or export could not be loaded. */
export declare class IsolateTaskError extends IsolateError {
    /** The task's own error as thrown in the isolate: its \`name\`, \`message\` and \`stack\`. */
    cause: Error;
}
`;

/**
 * Writes `outDir/index.js` and `outDir/index.d.ts`, the npm package's entry: everything the glue
 * exports, plus the error classes from the glue's copy of worker/errors.js (the very module the
 * glue builds its errors with, so `instanceof` holds). Checks that index.d.ts declares exactly
 * the classes errors.js exports.
 */
export async function writeEntry(outDir) {
  const glue = readFileSync(path.join(outDir, 'wasm_isolates.js'), 'utf8');
  const snippet = glue.match(/from\s+['"](\.\/snippets\/[^'"]+\/worker\/errors\.js)['"]/)?.[1];
  if (!snippet) throw new Error(`${path.join(outDir, 'wasm_isolates.js')} does not import worker/errors.js`);
  const declared = [...ERROR_CLASSES_DTS.matchAll(/^export declare class (\w+)/gm)].map((m) => m[1]);
  const errors = await import(pathToFileURL(path.join(outDir, snippet)).href);
  const exported = Object.keys(errors).filter((k) => typeof errors[k] === 'function' && errors[k].prototype instanceof Error);
  const missing = exported.filter((k) => !declared.includes(k));
  const extra = declared.filter((k) => !exported.includes(k));
  if (missing.length || extra.length) {
    throw new Error(`index.d.ts and worker/errors.js disagree: undeclared ${missing.join(', ') || '-'}; not exported ${extra.join(', ') || '-'}`);
  }
  const header = '// The wasm-isolates package entry, written by scripts/build.mjs: the wasm-bindgen glue\'s\n'
    + '// exports and the error classes (worker/errors.js) its errors are instances of.\n';
  // Before init() the glue's functions fail with a bare TypeError ("wasm is undefined"). The entry
  // wraps each export so that such a call throws (or, for a function returning a promise,
  // rejects with) an IsolateError that says to await init() first. Which functions return a
  // promise is read from the glue's declarations; classes are wrapped in a Proxy whose construct
  // trap checks, so `instanceof` and instances made by the glue itself are unaffected.
  const dts = readFileSync(path.join(outDir, 'wasm_isolates.d.ts'), 'utf8');
  const asyncFns = new Set([...dts.matchAll(/^export function (\w+)\b.*\): Promise<[^\n]*;$/gm)].map((m) => m[1]));
  const glueModule = await import(pathToFileURL(path.join(outDir, 'wasm_isolates.js')).href);
  const wrapped = Object.keys(glueModule).filter((k) => k !== 'default' && k !== 'initSync' && !k.startsWith('__') && typeof glueModule[k] === 'function');
  const isClass = (f) => /^class\b/.test(Function.prototype.toString.call(f));
  const lines = wrapped.map((k) => (isClass(glueModule[k])
    ? `export const ${k} = guardClass(glue.${k});`
    : `export const ${k} = guard('${k}', glue.${k}, ${asyncFns.has(k)});`));
  writeFileSync(path.join(outDir, 'index.js'), `${header}import * as glue from './wasm_isolates.js';
import { IsolateError } from '${snippet}';
export * from './wasm_isolates.js';
export { ${declared.join(', ')} } from '${snippet}';
export { transfer, tasksOf } from '${snippet.replace(/errors\.js$/, 'js-api.js')}';

let ready = false;
/** Whether the glue's wasm is instantiated (also when someone else called its init). */
function isReady() {
  if (!ready) {
    // The glue's initSync returns at once when the instance exists; otherwise it fails on the
    // missing module (a TypeError) before doing anything.
    try {
      glue.initSync({ module: undefined });
      ready = true;
    } catch {
      // Not initialised yet.
    }
  }
  return ready;
}
function notReady(name) {
  return new IsolateError(\`not ready: call \\\`await init()\\\` (the package's default export) before \${name}: the wasm module is not instantiated yet\`);
}
function guard(name, f, returnsPromise) {
  return function (...args) {
    if (!isReady()) {
      if (returnsPromise) return Promise.reject(notReady(\`\${name}()\`));
      throw notReady(\`\${name}()\`);
    }
    return f.apply(this, args);
  };
}
function guardClass(cls) {
  return new Proxy(cls, {
    construct(target, args, newTarget) {
      if (!isReady()) throw notReady(\`new \${target.name}()\`);
      // newTarget is the proxy (or a subclass): its prototype is the class's.
      return Reflect.construct(target, args, newTarget);
    },
  });
}

/** wasm-bindgen's init: fetches and compiles the wasm once. */
export default async function init(...args) {
  const output = await glue.default(...args);
  ready = true;
  return output;
}
export function initSync(...args) {
  const output = glue.initSync(...args);
  ready = true;
  return output;
}
${lines.join('\n')}
`);
  writeFileSync(path.join(outDir, 'index.d.ts'), `${header}export * from './wasm_isolates.js';
export { default } from './wasm_isolates.js';

${ERROR_CLASSES_DTS}
/**
 * Marks a pool task's result, a stream's item or a port message so that the buffers (or other
 * transferables) in \`list\` move instead of being copied. The same as \`context.transfer\`.
 */
export declare function transfer<T>(value: T, list: Transferable[]): T;

/**
 * Names the tasks that \`serve()\` registered in the worker script of a pool's (or
 * \`spawnIsolate\`'s) \`worker\` option, in place of a module URL:
 * \`pool.run(tasksOf<typeof import('./tasks')>(), 'sum', [buffer])\`. \`M\` types the task names,
 * their arguments and results; the handle carries nothing at run time.
 */
export declare function tasksOf<M = Record<string, (...args: any[]) => unknown>>(): Tasks<M>;
import type { Tasks } from './wasm_isolates.js';
`);
  writeWorkerEntry(outDir, snippet.replace(/errors\.js$/, 'js-api.js'));
}

/**
 * Writes \`outDir/worker.js\` and \`worker.d.ts\`, the package's \`wasm-isolates/worker\` export: what a
 * worker script named by the \`worker\` option of \`IsolatePool\` or \`spawnIsolate\` imports. It is
 * a separate entry, not the main one, so that such a script does not pull in the page's API.
 */
function writeWorkerEntry(outDir, jsApi) {
  writeFileSync(path.join(outDir, 'worker.js'), `// wasm-isolates/worker, written by scripts/build.mjs: for the worker script of the \`worker\`
// option (docs/js.md, "Where a task module can live").
export { serve, transfer } from '${jsApi}';
`);
  writeFileSync(path.join(outDir, 'worker.d.ts'), `// wasm-isolates/worker, written by scripts/build.mjs.

/**
 * Registers \`tasks\` (\`import * as tasks from './tasks'\`, or any object of functions) as this
 * worker's tasks and starts it as an isolate. Call it in the worker script that the \`worker\`
 * option of \`IsolatePool\` or \`spawnIsolate\` starts; the page names the tasks with \`tasksOf()\`.
 * A task is called with its arguments and then the \`IsolateContext\`.
 *
 * \`\`\`ts
 * // tasks.worker.ts
 * import { serve } from 'wasm-isolates/worker';
 * import * as tasks from './tasks';
 * serve(tasks);
 * \`\`\`
 */
export declare function serve(tasks: object): void;

/** Marks a task's result (or a yielded item) so that the buffers in \`list\` move instead of being copied. */
export declare function transfer<T>(value: T, list: Transferable[]): T;
`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const out = process.argv.indexOf('--out');
    const features = process.argv.find((a) => a.startsWith('--features='))?.slice('--features='.length);
    await build({
      features: features ? features.split(',').filter(Boolean) : [],
      wasmOpt: !process.argv.includes('--no-wasm-opt'),
      profile: process.argv.includes('--dev') ? 'dev' : 'release',
      ...(out > 0 && process.argv[out + 1] ? { outDir: process.argv[out + 1] } : {}),
    });
  } catch (err) {
    console.error(`build: ${err.message}`);
    process.exit(1);
  }
}
