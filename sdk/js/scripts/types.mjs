// Regenerates types/wit/ from ../../wit with `jco` (guest types of the
// `host` world: every interface of switchyard:plugin, each declared once).
//
//   npm run types          write types/wit/
//   npm run types:check    fail when types/wit/ differs from the WIT
//
// jco 1.35.0's `jco guest-types` command cannot read a WIT directory: its
// WASI shim (preview2-shim 0.26) starts with no preopened directory. This
// script calls the same generator (jco-transpile) after preopening `/`.
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';

const here = dirname(fileURLToPath(import.meta.url));
const wit = resolve(here, '../../../wit');
const out = resolve(here, '../types/wit');
const check = process.argv.includes('--check');

const require = createRequire(import.meta.url);
const transpile = join(dirname(require.resolve('@bytecodealliance/jco-transpile')), '..');
const shim = createRequire(join(transpile, 'package.json')).resolve(
  '@bytecodealliance/preview2-shim/filesystem',
);
(await import(pathToFileURL(shim).href))._setPreopens({ '/': '/' });
const { generateGuestTypes } = await import('@bytecodealliance/jco-transpile');

const files = await generateGuestTypes(wit, { worldName: 'host' });
let stale = [];
if (!check) await rm(out, { recursive: true, force: true });
for (const [name, text] of Object.entries(files)) {
  const path = join(out, name);
  if (check) {
    const old = await readFile(path, 'utf8').catch(() => null);
    if (old !== new TextDecoder().decode(text)) stale.push(name);
  } else {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
}
if (stale.length) {
  console.error(`types/wit is out of date with wit/ (${stale.join(', ')}): run \`npm run types\` in sdk/js`);
  process.exit(1);
}
console.log(check ? 'types/wit matches wit/' : `wrote ${Object.keys(files).length} files to types/wit`);
