// build.mjs OUTDIR: bundles src/main.ts (and its CSS) with esbuild into OUTDIR:
// index.html, app.js, app.css, each with a gzipped twin (.gz) that kite serves
// when the browser accepts gzip. Run by the Makefile (make ui) when ui/ changed.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, '..', 'build', 'ui'));
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (!f.startsWith('.')) rmSync(join(out, f), { recursive: true, force: true });

const r = await build({
  entryPoints: { app: join(here, 'src', 'main.ts') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  outdir: out,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});
writeFileSync(join(out, 'index.html'), readFileSync(join(here, 'src', 'index.html')));
let raw = 0, gz = 0;
for (const f of ['index.html', 'app.js', 'app.css']) {
  const data = readFileSync(join(out, f));
  const z = gzipSync(data, { level: 9 });
  writeFileSync(join(out, f + '.gz'), z);
  raw += data.length;
  gz += z.length;
}
console.log(`ui: ${out}: ${(raw / 1024).toFixed(0)} KiB, ${(gz / 1024).toFixed(0)} KiB gzipped`);
