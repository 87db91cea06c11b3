// Bundles src/phone.js (with JsSIP) into one browser script.
// `node build.mjs OUTFILE` — host/api/build.rs calls it with a file in
// Cargo's OUT_DIR; `npm run build` writes dist/phone.js.
import { build } from 'esbuild';

const outfile = process.argv[2] || 'dist/phone.js';

await build({
  entryPoints: ['src/phone.js'],
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2019'],
  legalComments: 'eof',
  // `debug` (a JsSIP dependency) checks process.env when it exists.
  define: { 'process.env.NODE_ENV': '"production"' },
  outfile,
  logLevel: 'warning',
});
