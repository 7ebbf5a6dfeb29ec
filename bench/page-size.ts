/**
 * What the settings pages cost to load: the Forge build of static/settings (the real @forge/bridge,
 * as shipped), file by file, raw and gzipped, and for each page the JavaScript it loads at start. A
 * size, not a time: the rows carry no samples.
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
  dynamicImports?: string[];
  css?: string[];
}

type Manifest = Record<string, ManifestChunk>;

/**
 * The two pages one resource serves (manifest.yml), each by the module its frame is opened as, and
 * the source file app.tsx loads for it (a chunk of its own: the keys of .vite/manifest.json).
 */
const PAGES = [
  { name: 'repository page', module: 'valohai-repo-settings', source: 'src/repository/repository-page.tsx' },
  { name: 'workspace page', module: 'valohai-workspace-settings', source: 'src/workspace/workspace-page.tsx' },
] as const;

/** The budget each page's JavaScript at start is held to (gzipped). */
const PAGE_BUDGET_KIB = 150;

interface FileSize {
  path: string;
  raw: number;
  gzip: number;
  /** 'at start' for every page, a page's name for what that page loads at start, else 'on demand'. */
  loaded: string;
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

/** The files of the chunks `keys` name, their CSS and everything they import statically, transitively. */
function staticClosure(manifest: Manifest, keys: string[], into = new Set<string>()): Set<string> {
  const seen = new Set<string>();
  const visit = (key: string) => {
    const chunk = manifest[key];
    if (!chunk || seen.has(key)) return;
    seen.add(key);
    into.add(chunk.file);
    for (const css of chunk.css ?? []) into.add(css);
    for (const dep of chunk.imports ?? []) visit(dep);
  };
  keys.forEach(visit);
  return into;
}

/**
 * What every page load fetches: the HTML, what it links (the one style sheet among them) and the
 * entry's file with its static imports.
 */
function loadedAtStart(manifest: Manifest, html: string): Set<string> {
  const linked = [...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1] as string);
  const entries = Object.entries(manifest).filter(([, c]) => c.isEntry).map(([key]) => key);
  return staticClosure(manifest, entries, new Set(['index.html', ...linked]));
}

/**
 * Everything a page's own code may fetch later (its sections, views and dialogs, as they are shown),
 * not the other page's. A library's own dynamic imports (the table's drag-to-rank body) are left out:
 * the pages never use them.
 */
function loadedLater(manifest: Manifest, page: string, others: string[]): Set<string> {
  const keys = new Set<string>();
  const visit = (key: string) => {
    if (keys.has(key) || others.includes(key) || !manifest[key]) return;
    keys.add(key);
    const chunk = manifest[key] as ManifestChunk;
    const ours = (chunk.dynamicImports ?? []).filter((dep) => !dep.includes('node_modules/'));
    for (const dep of [...(chunk.imports ?? []), ...ours]) visit(dep);
  };
  visit(page);
  return staticClosure(manifest, [...keys]);
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
    const manifest = JSON.parse(await readFile(join(outDir, MANIFEST), 'utf8')) as Manifest;
    for (const page of PAGES) {
      if (!manifest[page.source]) throw new Error(`bench/page-size.ts: the build has no chunk for ${page.source}; did the ${page.name} move?`);
    }
    const atStart = loadedAtStart(manifest, await readFile(join(outDir, 'index.html'), 'utf8'));
    const pageStart = PAGES.map((page) => ({ page, files: staticClosure(manifest, [page.source], new Set(atStart)) }));
    const pageLater = PAGES.map((page) => ({
      page,
      files: loadedLater(
        manifest,
        page.source,
        PAGES.filter((other) => other !== page).map((other) => other.source),
      ),
    }));
    const loadedOf = (path: string): string => {
      if (atStart.has(path)) return 'at start';
      const starts = pageStart.filter((p) => p.files.has(path)).map((p) => p.page.name);
      if (starts.length === PAGES.length) return 'at start';
      if (starts.length) return `${starts.join(', ')} at start`;
      return 'on demand';
    };
    const files: FileSize[] = [];
    for (const path of await listFiles(outDir)) {
      const bytes = await readFile(join(outDir, path));
      files.push({ path, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, loaded: loadedOf(path) });
    }
    // What every page loads first (HTML, JS, CSS), then each page's own, then the on-demand files, largest first.
    const rank = (f: FileSize) => (f.loaded === 'at start' ? 0 : f.loaded === 'on demand' ? 2 : 1);
    files.sort((a, b) => rank(a) - rank(b) || (rank(a) === 0 ? kind(a) - kind(b) : 0) || b.raw - a.raw);

    const isJs = (f: FileSize) => f.path.endsWith('.js');
    const start = files.filter((f) => f.loaded === 'at start');
    const onDemand = files.filter((f) => f.loaded === 'on demand');
    const js = files.filter(isJs);
    const startJs = start.filter(isJs);
    const perPage = PAGES.map((page) => {
      const startFiles = pageStart.find((p) => p.page === page)?.files ?? new Set<string>();
      const laterFiles = pageLater.find((p) => p.page === page)?.files ?? new Set<string>();
      return {
        page,
        start: files.filter((f) => isJs(f) && startFiles.has(f.path)),
        most: files.filter((f) => isJs(f) && (startFiles.has(f.path) || laterFiles.has(f.path))),
      };
    });
    const rows: BenchRow[] = [
      ...files.map((f) => sizeRow(unhashed(f.path), [f], f.loaded)),
      sizeRow('total JS loaded at start by every page', startJs, 'at start', true),
      sizeRow('total HTML + JS + CSS loaded at start by every page', start, 'at start', true),
      ...perPage.flatMap(({ page, start: pageJs, most }) => [
        sizeRow(`${page.name}: JS loaded at start`, pageJs, `${page.name} at start`, true),
        sizeRow(`${page.name}: JS with every view and dialog it can show`, most, page.name, true),
      ]),
      sizeRow('total JS in the build', js, '', true),
      sizeRow('total, whole build', files, '', true),
    ];
    const sum = (list: FileSize[]) => list.reduce((n, f) => n + f.gzip, 0);
    const gz = (list: FileSize[]) => `${kib(sum(list))} KiB`;
    return {
      title: 'Settings pages: what the browser loads (Forge build of static/settings)',
      rows,
      notes: [
        'One resource (`static/settings`, manifest key `settings`) serves both pages: the repository settings page ' +
          '(`valohai-repo-settings`) and the workspace settings page (`valohai-workspace-settings`). Every load fetches the ' +
          'entry, which reads the module key from the context and then fetches that page\'s chunk: a page\'s "at start" is ' +
          'the entry\'s files and its own chunk with their static imports.',
        `Every page load fetches the ${start.length} "at start" files: ${gz(start)} gzipped (${gz(startJs)} of it JavaScript).`,
        ...perPage.map(
          ({ page, start: pageJs, most }) =>
            `The ${page.name} loads ${gz(pageJs)} of gzipped JavaScript at start (budget ${PAGE_BUDGET_KIB} KiB: ` +
            `${sum(pageJs) <= PAGE_BUDGET_KIB * 1024 ? 'within it' : 'OVER it'}), and at most ${gz(most)} once every view and ` +
            'dialog it can show has been shown.',
        ),
        'After its start, the workspace page fetches its sections beside its data (they show once both have come); the ' +
          'repository page fetches the one view its data asks for (connect form, connected view or manual key); either ' +
          'fetches the confirmation dialog the first time it asks a question.',
        `The ${onDemand.length} "on demand" files are dynamic imports fetched only when code asks for them: those sections, ` +
          "views and dialog, @atlaskit/tokens' theme files (its theme loader, reached through " +
          "@atlaskit/app-provider's ThemeProvider, which the pages do not mount: in Forge the host applies the theme on " +
          "`view.theme.enable()`), iframe-resizer (@forge/bridge's ADF renderer, unused here) and the rankable table body " +
          "(@atlaskit/dynamic-table's drag-to-rank mode, unused here).",
        'gzip is node:zlib at level 9, the smallest gzip makes (a server compressing with brotli would send less); file names drop the content hash.',
      ],
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
