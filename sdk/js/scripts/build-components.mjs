// Builds test/components/<world>.js, each a component of that world made
// with the SDK, to <out>/<world>-js.wasm (for host/plugins/tests/javascript.rs):
//
//   node scripts/build-components.mjs <out-dir>
import { build } from 'esbuild';
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '../dist'));
const sources = join(here, '../test/components');
await mkdir(out, { recursive: true });
for (const file of (await readdir(sources)).filter((f) => f.endsWith('.js'))) {
  const world = file.replace(/\.js$/, '');
  const bundle = join(out, `${world}-js.bundle.js`);
  await build({
    entryPoints: [join(sources, file)],
    outfile: bundle,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['switchyard:*', 'wasi:*'],
    logLevel: 'warning',
  });
  const http = ['crm-connector', 'reporter', 'billing-reporter'].includes(world);
  const { component } = await componentize({
    sourcePath: bundle,
    witPath: resolve(here, '../../../wit'),
    worldName: world,
    disableFeatures: http ? ['fetch-event'] : ['http', 'fetch-event'],
  });
  await writeFile(join(out, `${world}-js.wasm`), component);
  console.log(`${world}-js.wasm: ${component.length} bytes`);
}
