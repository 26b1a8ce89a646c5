// Bundle render/app.jsx with esbuild into OUTDIR/bundle.js and copy index.html beside it.
// Usage: node bundle.mjs OUTDIR
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2] || join(here, 'build');
mkdirSync(outdir, { recursive: true });
const started = Date.now();
await build({
    entryPoints: [join(here, 'render', 'app.jsx')],
    bundle: true,
    outfile: join(outdir, 'bundle.js'),
    loader: { '.js': 'jsx' },
    define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
    minify: true,
    logLevel: 'error',
});
copyFileSync(join(here, 'render', 'index.html'), join(outdir, 'index.html'));
console.log(JSON.stringify({ bundle: join(outdir, 'bundle.js'), ms: Date.now() - started }));
