#!/usr/bin/env node
// `npm start`: set up what building needs (scripts/setup.sh build: no browsers, no root), build www/pkg, then serve the demo on 127.0.0.1 with
// cross-origin isolation (COOP/COEP). Port: $PORT or 8080, an ephemeral one when that is busy.
//   npm start -- --no-coi     serve without cross-origin isolation (one-shot isolates only)
// This file imports only node built-ins at top level: node_modules may not exist before setup.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const coi = !process.argv.includes('--no-coi');

function step(cmd, args) {
  return new Promise((resolve) => {
    console.log(`\n$ ${[cmd, ...args].join(' ')}`);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit' });
    child.on('error', (err) => {
      console.error(`failed to start ${cmd}: ${err.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

let code = await step('bash', [path.join('scripts', 'setup.sh'), 'build']);
if (code !== 0) {
  console.error(`\nstart: setup failed (exit ${code})`);
  process.exit(code);
}
code = await step(process.execPath, [path.join('scripts', 'build.mjs')]);
if (code !== 0) {
  console.error(`\nstart: build failed (exit ${code})`);
  process.exit(code);
}

const { serve } = await import('./serve.mjs');
const wanted = Number(process.env.PORT ?? 8080);
const options = { root: path.join(ROOT, 'www'), coi, log: false };
let server;
try {
  server = await serve({ ...options, port: wanted });
} catch (err) {
  if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') throw err;
  console.log(`\nport ${wanted} is not available (${err.code}); using an ephemeral port`);
  server = await serve({ ...options, port: 0 });
}

const line = '='.repeat(server.url.length + 24);
console.log(`\n${line}\n  wasm-isolates demo:  ${server.url}\n${line}`);
console.log(`cross-origin isolation: ${coi ? 'ON (COOP same-origin, COEP require-corp)' : 'OFF'}`);
console.log('Press Ctrl-C to stop.');

const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
