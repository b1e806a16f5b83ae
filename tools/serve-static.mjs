#!/usr/bin/env node
// A tiny static file server for the demo, the benchmark page and the browser tests. It binds
// to 127.0.0.1 only (never a public interface) and serves files with the MIME types browsers
// insist on for modules and WebAssembly (.mjs as text/javascript, .wasm as application/wasm,
// which WebAssembly.instantiateStreaming requires). It is for local use: any static host serves
// the built demo the same way.
//
//   node tools/serve-static.mjs DIR [--port N] [--isolate]
//
// --isolate adds COOP/COEP headers (cross-origin isolation: finer performance.now(), threads).
// As a module: `const s = await serveStatic({ '/': dir, '/data/': other }); s.url; await s.close()`.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.edgerec': 'application/octet-stream',
};

function mimeOf(file) {
  return MIME[path.extname(file).toLowerCase()] || 'application/octet-stream';
}

// Maps a URL path to a file under one of the mounts (longest prefix wins), refusing anything
// that escapes the mount's root (`..`, encoded slashes, NUL).
function resolve(mounts, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  for (const [prefix, root] of mounts) {
    if (!decoded.startsWith(prefix)) continue;
    const rel = decoded.slice(prefix.length);
    const file = path.resolve(root, '.' + path.posix.sep + rel);
    if (file !== root && !file.startsWith(root + path.sep)) return null;
    return file;
  }
  return null;
}

/**
 * Starts serving. `mounts` is a directory, or an object mapping URL prefixes ("/", "/data/")
 * to directories. Resolves to { url, port, close() }; `url` ends with "/".
 */
export function serveStatic(mounts, { port = 0, host = '127.0.0.1', isolate = false, log = null } = {}) {
  const table = Object.entries(typeof mounts === 'string' ? { '/': mounts } : mounts)
    .map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : prefix + '/', path.resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const server = http.createServer((req, res) => {
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    const urlPath = new URL(req.url, 'http://127.0.0.1').pathname;
    let file = resolve(table, urlPath);
    if (!file) return send(403, 'forbidden\n');
    fs.stat(file, (err, st) => {
      if (!err && st.isDirectory()) {
        if (!urlPath.endsWith('/')) return send(301, '', { Location: urlPath + '/' });
        file = path.join(file, 'index.html');
        st = fs.existsSync(file) ? fs.statSync(file) : null;
      }
      if (err || !st || !st.isFile()) {
        if (log) log(`404 ${urlPath}`);
        return send(404, 'not found\n');
      }
      const headers = {
        'Content-Type': mimeOf(file),
        'Content-Length': st.size,
        // The demo is rebuilt in place during development; never serve a stale model.
        'Cache-Control': 'no-cache',
      };
      if (isolate) {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      }
      res.writeHead(200, headers);
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
    });
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const actual = server.address().port;
      ok({
        url: `http://${host}:${actual}/`,
        port: actual,
        close: () => new Promise((done) => {
          server.closeAllConnections?.();
          server.close(() => done());
        }),
      });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let dir = null, port = 8080, isolate = false;
  for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '--isolate') isolate = true;
    else if (args[i] === '--help' || args[i] === '-h') dir = null, i = args.length;
    else dir = args[i];
  }
  if (!dir || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('usage: node tools/serve-static.mjs DIR [--port N] [--isolate]   (binds 127.0.0.1)');
    process.exit(2);
  }
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    console.error(`serve-static: ${dir}: not a directory`);
    process.exit(2);
  }
  const s = await serveStatic(dir, { port, isolate, log: (m) => console.error(m) });
  console.log(`serving ${path.resolve(dir)} at ${s.url} (Ctrl-C stops)`);
}
