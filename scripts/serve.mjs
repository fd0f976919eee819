#!/usr/bin/env node
// A tiny, dependency-free static file server for the demo page and the end-to-end tests.
//
//   node scripts/serve.mjs [--root www] [--port 8080] [--no-coi] [--csp "script-src 'self'"]
//
// Binds to 127.0.0.1 only. With `coi` on (the default) every response carries
// `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`, which
// makes the page cross-origin isolated (SharedArrayBuffer, long-lived isolates). Every response also
// carries `Cross-Origin-Resource-Policy: same-origin` and `Cache-Control: no-store`.

import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

/** The MIME type for a file name (by extension), `application/octet-stream` when unknown. */
export function mimeType(file) {
  return MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Serve `root` on 127.0.0.1.
 * @param {{root?: string, port?: number, host?: string, coi?: boolean, csp?: string, log?: boolean}} options
 *   `port` 0 picks an ephemeral port. `csp`, when given, is sent as `Content-Security-Policy`.
 * @returns {Promise<{url: string, port: number, server: import('node:http').Server, close(): Promise<void>}>}
 */
export async function serve({ root = 'www', port = 0, host = '127.0.0.1', coi = true, csp, log = false } = {}) {
  const rootDir = await realpath(path.resolve(root));

  const baseHeaders = {
    'Cache-Control': 'no-store',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'X-Content-Type-Options': 'nosniff',
  };
  if (coi) {
    baseHeaders['Cross-Origin-Opener-Policy'] = 'same-origin';
    baseHeaders['Cross-Origin-Embedder-Policy'] = 'require-corp';
  }
  if (csp) baseHeaders['Content-Security-Policy'] = csp;

  function send(res, status, body, extra = {}) {
    res.writeHead(status, { ...baseHeaders, 'Content-Type': 'text/plain; charset=utf-8', ...extra });
    res.end(body);
  }

  // Map a request path onto a file inside rootDir, or null when it escapes the root / is invalid.
  async function resolveFile(urlPath) {
    let decoded;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return null;
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return null;
    const candidate = path.resolve(rootDir, '.' + path.posix.normalize('/' + decoded));
    if (candidate !== rootDir && !candidate.startsWith(rootDir + path.sep)) return null;
    let file = candidate;
    let info;
    try {
      info = await stat(file);
      if (info.isDirectory()) {
        file = path.join(file, 'index.html');
        info = await stat(file);
      }
      // Symlinks must not lead out of the root either.
      const real = await realpath(file);
      if (real !== rootDir && !real.startsWith(rootDir + path.sep)) return null;
    } catch {
      return { file: null };
    }
    if (!info.isFile()) return { file: null };
    return { file, size: info.size };
  }

  const server = createServer(async (req, res) => {
    const started = Date.now();
    res.on('finish', () => {
      if (log) console.log(`[serve] ${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`);
    });
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      }
      const urlPath = new URL(req.url ?? '/', 'http://localhost').pathname;
      const hit = await resolveFile(urlPath);
      if (hit === null) return send(res, 403, 'forbidden\n');
      if (hit.file === null) return send(res, 404, 'not found\n');
      res.writeHead(200, {
        ...baseHeaders,
        'Content-Type': mimeType(hit.file),
        'Content-Length': hit.size,
      });
      if (req.method === 'HEAD') return res.end();
      const stream = createReadStream(hit.file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
      if (log) console.error('[serve]', err);
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  const url = `http://${host}:${actualPort}/`;
  return {
    url,
    port: actualPort,
    server,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}

/** Parse `--root x --port n --coi/--no-coi --csp "..." --quiet` (also `--port=n` form). */
export function parseArgs(argv) {
  const opts = { root: 'www', port: Number(process.env.PORT ?? 8080), coi: true, csp: undefined, log: true };
  for (let i = 0; i < argv.length; i++) {
    let [key, value] = argv[i].split(/=(.*)/s, 2);
    const next = () => (value !== undefined ? value : argv[++i]);
    switch (key) {
      case '--root': opts.root = next(); break;
      case '--port': opts.port = Number(next()); break;
      case '--coi': opts.coi = value === undefined ? true : !/^(0|off|false|no)$/i.test(value); break;
      case '--no-coi': opts.coi = false; break;
      case '--csp': opts.csp = next(); break;
      case '--quiet': opts.log = false; break;
      case '-h': case '--help':
        console.log('usage: node scripts/serve.mjs [--root www] [--port 8080|0] [--coi|--no-coi] [--csp POLICY] [--quiet]');
        process.exit(0);
        break;
      default:
        throw new Error(`serve.mjs: unknown option ${argv[i]}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('serve.mjs: bad --port');
  return opts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  const { url, close } = await serve(opts);
  console.log(`Serving ${path.resolve(opts.root)} at ${url} (cross-origin isolation ${opts.coi ? 'ON' : 'OFF'})`);
  const stop = async () => { await close(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
