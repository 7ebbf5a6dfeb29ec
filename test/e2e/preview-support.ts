/**
 * What the browser end-to-end tests of the local preview stand on: the preview build served by the
 * real preview server (real backend over the stand-ins), a Chromium, a key generator that remembers
 * every private key it made (so the tests can prove none ever reached the page) and can be held to
 * catch a job half way, a record of every `/api/invoke` answer the browser received, and the axe /
 * screenshot helpers that look inside the app's frame.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Frame, FrameLocator, Locator, Page, Response } from 'playwright-core';
import type { GeneratedKey, KeyGenerator } from '../../src/connect/index';
import { generateKeyPair } from '../../src/ssh/index';
import { startPreview, type Preview, type PreviewOptions } from '../../dev/preview/server';
import { axeProblems, buildPreview, releasePreview, root, settle, startBrowser, type Browser } from '../static/harness';

export { axeProblems, settle };
import { secretsIn } from '../support/secret-scan';

const run = promisify(execFile);

export const SHOTS_DIR = join(root, 'test-artifacts/screenshots');
const FRAME = '[data-testid="app-frame"]';

/**
 * The product's own generator, except that under npm test (VB_TEST_WORK) the browser files share the
 * RSA 4096 keys they make, each one a second or more of a core: the n-th key a file asks for with a
 * given comment is the n-th any file made with it. Every file has its own stand-ins, so no key meets
 * itself; within a file every key is new. Ed25519 keys cost nothing and are always made afresh.
 */
async function makeKey(type: GeneratedKey['type'], comment: string, ordinal: number): Promise<GeneratedKey> {
  const work = process.env.VB_TEST_WORK;
  if (!work || type !== 'rsa') return generateKeyPair({ type, comment });
  const dir = join(work, 'rsa-keys');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${createHash('sha256').update(`${comment}\0${ordinal}`).digest('hex').slice(0, 20)}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as GeneratedKey;
  } catch {
    // not made yet
  }
  const key = await generateKeyPair({ type, comment });
  const partial = `${file}.${process.pid}`;
  writeFileSync(partial, JSON.stringify(key), { mode: 0o600 });
  renameSync(partial, file); // whole or not at all; two files making the same one both keep theirs
  return key;
}

/** The product's own key generator, remembering each private key and optionally held before generating. */
export class RecordingKeys {
  private readonly made = new Map<string, number>();
  readonly privateKeys: string[] = [];
  /** Key types asked for, in order. */
  readonly types: string[] = [];
  private gate: { opened: Promise<void>; open: () => void; reach: () => void } | null = null;

  readonly generate: KeyGenerator = async ({ type, comment }): Promise<GeneratedKey> => {
    this.types.push(type);
    const gate = this.gate;
    if (gate) {
      gate.reach();
      await gate.opened;
    }
    const ordinal = this.made.get(comment) ?? 0;
    this.made.set(comment, ordinal + 1);
    const key = await makeKey(type, comment, ordinal);
    this.privateKeys.push(key.privateKey);
    return key;
  };

  /**
   * Holds key generation until `release()`: a job stays on its generate-key step, so the page can be
   * seen mid-run. `reached` resolves once a job is waiting at the gate.
   */
  hold(): { reached: Promise<void>; release: () => void } {
    let open = () => {};
    let reach = () => {};
    const opened = new Promise<void>((r) => (open = r));
    const reached = new Promise<void>((r) => (reach = r));
    this.gate = { opened, open, reach };
    return { reached, release: () => this.release() };
  }

  /** Lets every held generation go (also when a test failed while holding, so shutdown never waits on it). */
  release(): void {
    const gate = this.gate;
    this.gate = null;
    gate?.open();
  }
}

export interface InvokeAnswer {
  url: string;
  functionKey: string;
  status: number;
  body: string;
}

export interface E2e {
  preview: Preview;
  browser: Browser;
  keys: RecordingKeys;
  /** Every `/api/invoke` answer any page of the browser received, in order. */
  answers: InvokeAnswer[];
  /** Waits until every answer seen so far has been read. */
  settleAnswers(): Promise<void>;
  close(): Promise<void>;
}

/** Builds the preview bundle into a temp dir, starts the preview (own stand-ins) and Chromium. */
export async function startE2e(options: Pick<PreviewOptions, 'valohaiApi'> = {}): Promise<E2e> {
  const buildDir = buildPreview();
  const keys = new RecordingKeys();
  let preview: Preview | undefined;
  let browser: Browser | undefined;
  try {
    preview = await startPreview({ buildDir, generateKey: keys.generate, ...options });
    browser = await startBrowser();
  } catch (err) {
    await preview?.close();
    releasePreview(buildDir);
    throw err;
  }
  mkdirSync(SHOTS_DIR, { recursive: true });
  const answers: InvokeAnswer[] = [];
  const pending = new Set<Promise<void>>();
  const record = (res: Response) => {
    const url = new URL(res.url());
    if (url.pathname !== '/api/invoke') return;
    const functionKey = (() => {
      try {
        return String((JSON.parse(res.request().postData() ?? '{}') as { functionKey?: unknown }).functionKey ?? '');
      } catch {
        return '';
      }
    })();
    const reading: Promise<void> = res
      .text()
      .then(
        (body) => void answers.push({ url: res.url(), functionKey, status: res.status(), body }),
        // A page closed before its answer was read: note it, so the scan knows something is missing.
        () => void answers.push({ url: res.url(), functionKey, status: res.status(), body: '<unread>' }),
      )
      .finally(() => pending.delete(reading));
    pending.add(reading);
  };
  browser.context.on('response', record);
  const openPreview = preview;
  const openBrowser = browser;
  return {
    preview: openPreview,
    browser: openBrowser,
    keys,
    answers,
    settleAnswers: async () => {
      while (pending.size) await Promise.all([...pending]);
    },
    async close() {
      keys.release();
      try {
        await openBrowser.close();
      } finally {
        try {
          await openPreview.close();
        } finally {
          releasePreview(buildDir);
        }
      }
    },
  };
}

/** How long a job may take in the preview before a test gives up on it. */
export const JOB_TIMEOUT = 60_000;

export const text = (locator: Locator): Promise<string> => locator.innerText();

/** Waits until the locator's text matches (the page polls; this follows it), and returns that text. */
export async function until(locator: Locator, pattern: RegExp, timeout = JOB_TIMEOUT): Promise<string> {
  await locator.filter({ hasText: pattern }).first().waitFor({ timeout });
  return text(locator.first());
}

/** The app inside a host page: a locator for acting and reading, the frame itself for scripts. */
export interface AppView {
  page: Page;
  app: FrameLocator;
  frame(): Promise<Frame>;
}

export function appView(page: Page): AppView {
  return {
    page,
    app: page.frameLocator(FRAME),
    async frame() {
      const handle = await page.locator(FRAME).elementHandle();
      const frame = await handle?.contentFrame();
      if (!frame) throw new Error('The host page has no app frame.');
      return frame;
    },
  };
}

/** Opens a host page in a new tab and waits for `ready` inside the app's frame. */
/** The workspace page's tabs: Setup is shown first. */
export type WorkspaceTab = 'setup' | 'repositories' | 'audit' | 'policies';

/** Shows one of the workspace page's tabs. */
export async function showTab(view: AppView, tab: WorkspaceTab): Promise<void> {
  await view.app.getByTestId(`workspace-tab-${tab}`).click({ timeout: 20_000 });
  await view.app.getByTestId(`workspace-panel-${tab}`).waitFor({ state: 'visible' });
}

/** Opens a page of the preview; on the workspace page, `tab` is the tab to show before `ready` is looked for. */
export async function openApp(browser: Browser, url: string, ready: string, tab?: WorkspaceTab): Promise<AppView & { errors: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(url);
  const view = appView(page);
  if (tab) await showTab(view, tab);
  await view.app.getByTestId(ready).first().waitFor({ state: 'visible', timeout: 20_000 });
  return { ...view, errors };
}

export async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS_DIR, `e2e-${name}.png`), fullPage: true });
}

/** Settles the app's frame, scans it with axe (inside the frame) and takes a full-page screenshot. */
export async function checkState(view: AppView, name: string): Promise<string[]> {
  const frame = await view.frame();
  await settle(frame);
  const problems = await axeProblems(frame);
  await shoot(view.page, name);
  return problems;
}

/** The commit a branch of a stand-in repository points at, read with git from the bare repository. */
export async function headOf(preview: Preview, slug: string, branch = 'main'): Promise<string> {
  const repo = preview.stack.bitbucket.state.findRepo('acme', slug);
  if (!repo) throw new Error(`No repository acme/${slug} in the stand-ins.`);
  const { stdout } = await run('git', ['rev-parse', `refs/heads/${branch}`], { cwd: repo.path, encoding: 'utf8' });
  return stdout.trim();
}

/** The base64 body lines of a PEM/OpenSSH private key: any of them showing up anywhere is a leak. */
export function privateKeyLines(privateKey: string): string[] {
  return privateKey
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length >= 40 && !l.startsWith('-----'));
}

/** What in `texts` holds one of the secrets: `where: what` per finding, never the secret itself. */
export function secretFindings(texts: { where: string; text: string }[], secrets: { name: string; value: string; key?: boolean }[]): string[] {
  const findings: string[] = [];
  for (const { where, text } of texts) {
    if (/PRIVATE KEY/.test(text)) findings.push(`${where}: a PRIVATE KEY armour line`);
    for (const secret of secrets) if (text.includes(secret.value)) findings.push(`${where}: ${secret.name}`);
    // Also decoded (URL-encoded, JSON-escaped) and in pieces (a key cut into short lines).
    for (const name of secretsIn(text, secrets)) findings.push(`${where}: ${name} (encoded or in pieces)`);
  }
  return findings;
}

/** Stores the demo admin's Valohai and Bitbucket tokens through the workspace page's forms. */
export async function saveAdminTokens(app: FrameLocator, tokens: { valohai: string; email: string; bitbucket: string }): Promise<void> {
  await app.getByTestId('valohai-token').fill(tokens.valohai);
  await app.getByTestId('valohai-save').click();
  await until(app.getByTestId('valohai-saved'), /Saved/);
  await app.getByTestId('bitbucket-email').fill(tokens.email);
  await app.getByTestId('bitbucket-token').fill(tokens.bitbucket);
  await app.getByTestId('bitbucket-token').press('Enter');
  await until(app.getByTestId('bitbucket-saved'), /Saved/);
}
