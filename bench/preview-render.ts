/**
 * How soon the repository settings page is usable: from the navigation to the host page until, inside the
 * app's frame, the page's main action is on screen and enabled. Measured in the local preview (real
 * backend, stand-ins on loopback, so no network time) in headless Chromium, for a repository ready to
 * connect and for a connected one (whose page read asks Bitbucket and Valohai for live state).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startPreview, type Preview } from '../dev/preview/server';
import { PEOPLE } from '../dev/preview/people';
import { demoValohaiCredentials } from '../dev/valohai/index';
import { row, type BenchRow, type BenchSection } from './lib';

const RUNS = 10;
const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);

/**
 * Runs in every frame before its scripts: records, on the shared wall clock, when the first content and
 * the enabled main action appear. The host page keeps its own navigation start for the difference.
 */
const PROBE = `(() => {
  const at = () => performance.timeOrigin + performance.now();
  const marks = (window.__renderMarks = { navigationStart: performance.timeOrigin });
  const check = () => {
    if (!marks.content && document.querySelector('#root > *')) marks.content = at();
    const action = document.querySelector('[data-testid="connect-button"], [data-testid="rotate-button"]');
    if (!marks.interactive && action && !action.disabled && action.getAttribute('aria-disabled') !== 'true') marks.interactive = at();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
})();`;

interface Marks {
  navigationStart: number;
  content?: number;
  interactive?: number;
}

async function buildPages(outDir: string): Promise<void> {
  await run(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'static/settings/vite.config.ts', '--mode', 'preview', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'],
    { cwd: root, env: { ...process.env, PREVIEW_BRIDGE: '1' } },
  );
}

/** One cold load: a new browser context, so nothing is cached. */
async function measure(browser: Browser, url: string): Promise<Marks> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    await context.addInitScript(PROBE);
    const page = await context.newPage();
    await page.goto(url);
    return await marksOf(page);
  } finally {
    await context.close();
  }
}

async function marksOf(page: Page): Promise<Marks> {
  const element = await page.locator('[data-testid="app-frame"]').elementHandle();
  const frame = await element?.contentFrame();
  if (!frame) throw new Error('The host page has no app frame.');
  // The probe records on DOM mutations; wait for its marks rather than for a locator, which can see the
  // enabled button a moment before the observer's callback has run.
  const handle = await frame.waitForFunction(
    () => {
      const marks = (window as unknown as { __renderMarks?: Marks }).__renderMarks;
      return marks?.interactive && marks.content ? marks : null;
    },
    undefined,
    { timeout: 30_000 },
  );
  const inner = (await handle.jsonValue()) as Marks;
  const top = await page.evaluate(() => (window as unknown as { __renderMarks: Marks }).__renderMarks);
  return { navigationStart: top.navigationStart, content: inner.content, interactive: inner.interactive };
}

async function connect(preview: Preview, slug: string): Promise<void> {
  const ws = preview.stack.bitbucket.state.findWorkspace('acme');
  const repo = ws && preview.stack.bitbucket.state.findRepo(ws, slug);
  if (!ws || !repo) throw new Error(`no repository acme/${slug}`);
  const admin = { workspaceId: ws.uuid, accountId: PEOPLE.admin.accountId };
  const r = preview.backend.resolvers;
  const ok = (reply: { ok: boolean }, what: string) => {
    if (!reply.ok) throw new Error(`${what} failed: ${JSON.stringify(reply)}`);
  };
  ok(await r.saveValohaiToken({ token: demoValohaiCredentials.admin.token }, admin), 'saving the Valohai token');
  ok(await r.saveBitbucketToken({ email: PEOPLE.admin.email, token: PEOPLE.admin.token }, admin), 'saving the Bitbucket token');
  const started = await r.startConnect(
    { projectId: demoValohaiCredentials.project.id, ref: repo.mainBranch, keyType: 'ed25519', submodules: true },
    { ...admin, repositoryUuid: repo.uuid },
  );
  ok(started, 'starting the connect');
  await preview.platform.idle();
}

export async function benchPreviewRender(): Promise<BenchSection> {
  const buildDir = await mkdtemp(join(tmpdir(), 'vb-bench-preview-'));
  let preview: Preview | undefined;
  let browser: Browser | undefined;
  try {
    await buildPages(buildDir);
    preview = await startPreview({ buildDir });
    await connect(preview, 'ml-models');
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    const rows: BenchRow[] = [];
    const states = [
      { name: 'ready to connect (acme/inference-api)', url: preview.pageUrl({ repository: 'inference-api' }) },
      { name: 'connected (acme/ml-models)', url: preview.pageUrl({ repository: 'ml-models' }) },
    ];
    for (const state of states) {
      // Cold: a new browser context each run, so nothing is cached; one unmeasured run first warms the server.
      await measure(browser, state.url);
      const content: number[] = [];
      const interactive: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const marks = await measure(browser, state.url);
        content.push((marks.content ?? Number.NaN) - marks.navigationStart);
        interactive.push((marks.interactive ?? Number.NaN) - marks.navigationStart);
      }
      rows.push(row(`${state.name}: app rendered (loading)`, content), row(`${state.name}: first interactive render`, interactive));

      // Warm: the same tab reloaded, files from the browser's cache, as on a second visit.
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.addInitScript(PROBE);
      const page = await context.newPage();
      await page.goto(state.url);
      await marksOf(page);
      const warm: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        await page.reload();
        const marks = await marksOf(page);
        warm.push((marks.interactive ?? Number.NaN) - marks.navigationStart);
      }
      await context.close();
      rows.push(row(`${state.name}: first interactive render, cached`, warm));
    }
    return {
      title: 'Repository settings page in the local preview: navigation to first interactive render',
      rows,
      notes: [
        'From the host page\'s navigation start to the moment, inside the app frame, that the page\'s main action (Connect, or Rotate when connected) is on screen and enabled; "app rendered" is the first thing the app draws in its frame (its loading spinner), before its first resolver call answers.',
        `Headless Chromium (Debian's), ${RUNS} runs each after one unmeasured run; cold runs use a new browser context (empty cache) each time.`,
        'Everything is on loopback: the time is the bundle\'s parse and start, the context read, and the page read through the real resolvers against the stand-ins (the connected page asks Bitbucket and Valohai for live state). Inside Bitbucket, the network and Forge\'s function start come on top.',
      ],
    };
  } finally {
    await browser?.close();
    await preview?.close();
    await rm(buildDir, { recursive: true, force: true });
  }
}
