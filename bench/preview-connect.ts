/**
 * How long a connect takes as the admin sees it: from the click on Connect until the page shows the
 * connection (its "Connected" card), in the local preview (real backend and job queue, stand-ins on
 * loopback, Valohai's fetch running real git over SSH) in headless Chromium. Each run disconnects
 * through the backend afterwards, so the next one connects afresh.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { startPreview, type Preview } from '../dev/preview/server';
import { PEOPLE } from '../dev/preview/people';
import { demoValohaiCredentials } from '../dev/valohai/index';
import { row, type BenchRow, type BenchSection } from './lib';

const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);
const REPO = 'ml-models';
const FRAME = '[data-testid="app-frame"]';

async function buildPages(outDir: string): Promise<void> {
  await run(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'static/settings/vite.config.ts', '--mode', 'preview', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'],
    { cwd: root, env: { ...process.env, PREVIEW_BRIDGE: '1' } },
  );
}

function admin(preview: Preview) {
  const ws = preview.stack.bitbucket.state.findWorkspace('acme');
  const repo = ws && preview.stack.bitbucket.state.findRepo(ws, REPO);
  if (!ws || !repo) throw new Error(`no repository acme/${REPO}`);
  return { workspaceId: ws.uuid, accountId: PEOPLE.admin.accountId, repositoryUuid: repo.uuid };
}

const ok = (reply: { ok: boolean }, what: string) => {
  if (!reply.ok) throw new Error(`${what} failed: ${JSON.stringify(reply)}`);
};

/** One connect through the page: milliseconds from the click to the connected view, and the steps it showed. */
async function connectOnce(browser: Browser, preview: Preview, keyType: 'rsa' | 'ed25519'): Promise<{ ms: number; steps: string }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    await page.goto(preview.pageUrl({ repository: REPO }));
    const app = page.frameLocator(FRAME);
    await app.getByTestId('connect-form').waitFor({ timeout: 30_000 });
    await app.locator('#project-select').fill(demoValohaiCredentials.project.name);
    await app.locator('#project-select').press('Enter');
    await app.getByTestId(`key-${keyType}--radio-input`).check();
    const button = app.getByTestId('connect-button');
    await button.waitFor();
    const t0 = performance.now();
    await button.click();
    await app.getByTestId('connected-view').waitFor({ timeout: 120_000 });
    const ms = performance.now() - t0;
    const steps = await app.getByTestId('job-step-count').first().innerText().catch(() => '');
    return { ms, steps };
  } finally {
    await context.close();
  }
}

export async function benchPreviewConnect(): Promise<BenchSection> {
  const buildDir = await mkdtemp(join(tmpdir(), 'vb-bench-connect-'));
  let preview: Preview | undefined;
  let browser: Browser | undefined;
  try {
    await buildPages(buildDir);
    preview = await startPreview({ buildDir });
    const who = admin(preview);
    const r = preview.backend.resolvers;
    ok(await r.saveValohaiToken({ token: demoValohaiCredentials.admin.token }, who), 'saving the Valohai token');
    ok(await r.saveBitbucketToken({ email: PEOPLE.admin.email, token: PEOPLE.admin.token }, who), 'saving the Bitbucket token');
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    const rows: BenchRow[] = [];
    const shown = new Set<string>();
    for (const [keyType, runs] of [
      ['ed25519', 5],
      ['rsa', 3],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const { ms, steps } = await connectOnce(browser, preview, keyType);
        times.push(ms);
        if (steps) shown.add(steps);
        ok(await r.startDisconnect({}, who), 'starting the disconnect');
        await preview.platform.idle();
      }
      rows.push(row(`acme/${REPO} (4 repositories with its key; the public docs-site needs none), ${keyType === 'rsa' ? 'RSA 4096 (the default)' : 'Ed25519'}: Connect click to connected`, times));
    }
    return {
      title: 'Connect in the local preview: from the Connect click to the connected page',
      rows,
      notes: [
        'From the click on Connect until the connected card is on screen: the job queued and run (discovery, access keys on the repository and the three submodule repositories that need one, Valohai given the key, a real git fetch over SSH, the check of the head), and the page polling the job once a second, then reading the page again.',
        `The finished job said: ${[...shown].join('; ') || 'no step count'}.`,
        'Everything is on loopback with no network delay: inside Bitbucket, each Bitbucket and Valohai request and Forge\'s queue add to it. RSA 4096 key generation takes a second or more of it.',
      ],
    };
  } finally {
    await browser?.close();
    await preview?.close();
    await rm(buildDir, { recursive: true, force: true });
  }
}
