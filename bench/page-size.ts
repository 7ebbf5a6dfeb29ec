/**
 * What the settings pages cost to load: the Forge build of static/settings (the real @forge/bridge,
 * as shipped), file by file, raw and gzipped. A size, not a time: the rows carry no samples.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BenchRow, BenchSection } from './lib';

const root = new URL('..', import.meta.url).pathname;
const MANIFEST = join('.vite', 'manifest.json');

interface ManifestChunk {
  file: string;
  isEntry?: boolean;
  imports?: string[];
  css?: string[];
}

interface FileSize {
  path: string;
  raw: number;
  gzip: number;
  atStart: boolean;
}

class PageBuildError extends Error {
  constructor(readonly output: string) {
    super(`The Forge build of static/settings failed; run \`npm run build:ui\` to see why.\n${output}`);
    this.name = 'PageBuildError';
  }
}

/**
 * The production build exactly as `npm run build:ui` makes it, but into `outDir`. `--manifest` only
 * adds .vite/manifest.json beside the assets (not shipped, left out of the sizes): it says which
 * chunks the entry imports statically, i.e. what every page load fetches.
 */
function buildForge(outDir: string): Promise<void> {
  const env = { ...process.env };
  // Either of these would swap in the preview bridge; this measures what Forge serves.
  delete env.PREVIEW_BRIDGE;
  const args = [
    join(root, 'node_modules/vite/bin/vite.js'),
    'build',
    '--config',
    'static/settings/vite.config.ts',
    '--mode',
    'production',
    '--outDir',
    outDir,
    '--emptyOutDir',
    '--manifest',
    '--logLevel',
    'error',
  ];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new PageBuildError(`${stdout}${stderr}`.trim() || err.message)) : resolve(),
    );
  });
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((p) => p !== MANIFEST.split(sep).join('/'));
}

/** The entry's file, its CSS and everything it imports statically, transitively. */
function loadedAtStart(manifest: Record<string, ManifestChunk>): Set<string> {
  const out = new Set<string>(['index.html']);
  const visit = (key: string) => {
    const chunk = manifest[key];
    if (!chunk || out.has(chunk.file)) return;
    out.add(chunk.file);
    for (const css of chunk.css ?? []) out.add(css);
    for (const dep of chunk.imports ?? []) visit(dep);
  };
  for (const [key, chunk] of Object.entries(manifest)) if (chunk.isEntry) visit(key);
  return out;
}

/** `assets/index-CozU7iKi.js` → `assets/index.js`: the content hash changes every build, the name does not. */
const unhashed = (path: string) => path.replace(/-[\w-]{8}(\.\w+)$/, '$1');

const kib = (bytes: number) => Number((bytes / 1024).toFixed(1));

/** runs 0: a size has no samples, and the table leaves out the time columns for such a section. */
function sizeRow(name: string, files: FileSize[], loaded: string, total = false): BenchRow {
  const raw = files.reduce((n, f) => n + f.raw, 0);
  const gzip = files.reduce((n, f) => n + f.gzip, 0);
  const extra = { loaded, 'raw KiB': kib(raw), 'gzip KiB': kib(gzip), ...(total ? { files: files.length } : {}) };
  return { name, runs: 0, medianMs: 0, p95Ms: 0, extra };
}

const kind = (f: FileSize) => (f.path.endsWith('.html') ? 0 : f.path.endsWith('.js') ? 1 : 2);

export async function benchPageSize(): Promise<BenchSection> {
  const outDir = await mkdtemp(join(tmpdir(), 'vb-bench-pages-'));
  try {
    await buildForge(outDir);
    const manifest = JSON.parse(await readFile(join(outDir, MANIFEST), 'utf8')) as Record<string, ManifestChunk>;
    const atStart = loadedAtStart(manifest);
    const files: FileSize[] = [];
    for (const path of await listFiles(outDir)) {
      const bytes = await readFile(join(outDir, path));
      files.push({ path, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, atStart: atStart.has(path) });
    }
    // At-start files first (HTML, JS, CSS), then the on-demand ones, largest first.
    files.sort((a, b) => Number(b.atStart) - Number(a.atStart) || (a.atStart ? kind(a) - kind(b) : 0) || b.raw - a.raw);

    const start = files.filter((f) => f.atStart);
    const onDemand = files.filter((f) => !f.atStart);
    const js = files.filter((f) => f.path.endsWith('.js'));
    const startJs = start.filter((f) => f.path.endsWith('.js'));
    const label = (f: FileSize) => (f.atStart ? 'at start' : 'on demand');
    const rows: BenchRow[] = [
      ...files.map((f) => sizeRow(unhashed(f.path), [f], label(f))),
      sizeRow('total JS loaded at start', startJs, 'at start', true),
      sizeRow('total HTML + JS + CSS loaded at start', start, 'at start', true),
      sizeRow('total JS in the build', js, '', true),
      sizeRow('total, whole build', files, '', true),
    ];
    const gz = (list: FileSize[]) => `${kib(list.reduce((n, f) => n + f.gzip, 0))} KiB`;
    return {
      title: 'Settings pages: what the browser loads (Forge build of static/settings)',
      rows,
      notes: [
        'One resource (`static/settings`, manifest key `settings`) serves both pages: the repository settings page ' +
          '(`valohai-repo-settings`) and the workspace settings page (`valohai-workspace-settings`) load the same files ' +
          'and choose what to render from the module key in the context, so every row applies to both.',
        `Each page load fetches the ${start.length} "at start" files: ${gz(start)} gzipped (${gz(startJs)} of it JavaScript).`,
        `The ${onDemand.length} "on demand" files are dynamic imports fetched only when code asks for them: ` +
          "@atlaskit/tokens' theme files (its theme loader, reached through @atlaskit/app-provider's ThemeProvider, which " +
          'the pages do not mount: in Forge the host applies the theme on `view.theme.enable()`), iframe-resizer ' +
          "(@forge/bridge's ADF renderer, unused here) and the rankable table body (@atlaskit/dynamic-table's " +
          'drag-to-rank mode, unused here).',
        'gzip is node:zlib at level 9, the smallest gzip makes (a server compressing with brotli would send less); file names drop the content hash.',
      ],
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
