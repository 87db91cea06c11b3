// Builds the component: bundle src/flow.js and the SDK into one ES module
// (esbuild; the `switchyard:` imports stay imports), then make it a
// WebAssembly component of world `call-flow` (componentize-js).
//
//   node build.mjs [out.wasm]      default: dist/call-flow-js.wasm
import { build } from 'esbuild';
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? resolve(here, 'dist/call-flow-js.wasm'));
// The WIT of switchyard:plugin; a partner outside this repository points
// this at their copy of wit/ (it ships with the host's release).
const wit = process.env.SWITCHYARD_WIT ?? resolve(here, '../../wit');
const bundle = out.replace(/\.wasm$/, '') + '.bundle.js';

await mkdir(dirname(out), { recursive: true });
await build({
  entryPoints: [resolve(here, 'src/flow.js')],
  outfile: bundle,
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  external: ['switchyard:*', 'wasi:*'],
  logLevel: 'warning',
});
const t0 = Date.now();
const { component } = await componentize({
  sourcePath: bundle,
  witPath: wit,
  worldName: 'call-flow',
  // A call flow has no HTTP: leave fetch out of the engine.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(out, component);
console.log(`${out}: ${component.length} bytes (componentize ${Date.now() - t0} ms)`);
