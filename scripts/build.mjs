#!/usr/bin/env node
// Build the wasm package into www/pkg (the demo) or, with `--out pkg`, into pkg/ (the npm package):
//   cargo build --release --target wasm32-unknown-unknown --lib
//   wasm-bindgen --target web --out-dir www/pkg --out-name wasm_isolates target/wasm32-unknown-unknown/release/wasm_isolates.wasm
// Runnable as `node scripts/build.mjs` (`npm run build`) or importable: `await build()`.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
export async function build({ profile = 'release', outDir = path.join('www', 'pkg') } = {}) {
  const cargoArgs = ['build', '--target', 'wasm32-unknown-unknown', '--lib'];
  if (profile === 'release') cargoArgs.splice(1, 0, '--release');
  let code = await run('cargo', cargoArgs);
  if (code !== 0) throw new Error(`cargo build failed (exit ${code})`);

  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
  const wasm = path.join(targetDir, 'wasm32-unknown-unknown', profile === 'release' ? 'release' : 'debug', 'wasm_isolates.wasm');
  if (!existsSync(wasm)) throw new Error(`${path.relative(ROOT, wasm)} was not produced by cargo build`);
  code = await run('wasm-bindgen', ['--target', 'web', '--out-dir', outDir, '--out-name', 'wasm_isolates', path.relative(ROOT, wasm)]);
  if (code !== 0) throw new Error(`wasm-bindgen failed (exit ${code})`);
  console.log(`\nbuilt ${outDir}/wasm_isolates.js + wasm_isolates_bg.wasm`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const out = process.argv.indexOf('--out');
    await build({
      profile: process.argv.includes('--dev') ? 'dev' : 'release',
      ...(out > 0 && process.argv[out + 1] ? { outDir: process.argv[out + 1] } : {}),
    });
  } catch (err) {
    console.error(`build: ${err.message}`);
    process.exit(1);
  }
}
