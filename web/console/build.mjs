// Bundles the console (src/main.js with its pages, Chart.js and JsSIP) into
// one browser script, console.js, and the style sheets the modules import
// into console.css beside it, and copies the page.
// `node build.mjs OUTDIR` — host/api/build.rs calls it with Cargo's
// OUT_DIR/console; `npm run build` writes dist/. The host serves OUTDIR's
// files (embedded in the binary; `--console-dir` serves a directory
// instead, for working on the console without rebuilding the host).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2] || 'dist';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['src/main.js'],
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  legalComments: 'eof',
  // `debug` (a JsSIP dependency) checks process.env when it exists.
  define: { 'process.env.NODE_ENV': '"production"' },
  outfile: join(out, 'console.js'),
  logLevel: 'warning',
});
copyFileSync('index.html', join(out, 'index.html'));
