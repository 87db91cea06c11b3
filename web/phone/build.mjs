// Bundles src/phone.js (with JsSIP) into one browser script, and
// src/webcall.js (the web widget's "call us", with JsSIP) beside it as
// webcall.js.
// `node build.mjs OUTFILE` — host/api/build.rs calls it with a file in
// Cargo's OUT_DIR; `npm run build` writes dist/phone.js.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';

const outfile = process.argv[2] || 'dist/phone.js';

for (const [entry, out] of [
  ['src/phone.js', outfile],
  ['src/webcall.js', join(dirname(outfile), 'webcall.js')],
]) await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2019'],
  legalComments: 'eof',
  // `debug` (a JsSIP dependency) checks process.env when it exists.
  define: { 'process.env.NODE_ENV': '"production"' },
  outfile: out,
  logLevel: 'warning',
});
