// What the page tests stand on: the preview build of the pages (real @forge/bridge swapped for the
// HTTP adapter), a loopback server answering `/api/context` and `/api/invoke` from the scenario
// table, and a Chromium started with a throw-away profile.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';
import { Router, json, serve, type HttpReply, type RunningServer } from '../../dev/http';
import { InvalidPayloadError, MODULE_KEYS, RESOLVERS, validatePayload, type ResolverName } from '../../src/forge/contract';
import type { ReplyFn, Scenario } from './fixtures';

export const root = new URL('../..', import.meta.url).pathname;

/**
 * The preview bundle of the pages. Under the test command (which names a work folder for the run in
 * VB_TEST_WORK) every browser test file shares one build, made by whichever file asks first while the
 * others wait for it; a file run on its own builds into a fresh temp folder. Never into the working
 * tree. Give the folder back with releasePreview().
 */
export function buildPreview(): string {
  const work = process.env.VB_TEST_WORK;
  if (!work) {
    const outDir = mkdtempSync(join(tmpdir(), 'vb-settings-preview-'));
    viteBuild(outDir);
    return outDir;
  }
  return sharedBuild(join(work, 'preview-build'));
}

/** Removes a build this file made for itself; the run's shared build stays for the other files. */
export function releasePreview(dir: string): void {
  const work = process.env.VB_TEST_WORK;
  if (work && dir === join(work, 'preview-build')) return;
  rmSync(dir, { recursive: true, force: true });
}

const BUILT = '.built';
const FAILED = '.failed';
const SHARED_BUILD_WAIT_MS = 10 * 60_000;

function sharedBuild(dir: string): string {
  let mine = true;
  try {
    mkdirSync(dir); // the first file to get here builds; mkdir is the lock
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    mine = false;
  }
  if (mine) {
    try {
      viteBuild(dir);
    } catch (err) {
      writeFileSync(join(dir, FAILED), err instanceof Error ? err.message : String(err));
      throw err;
    }
    writeFileSync(join(dir, BUILT), '');
    return dir;
  }
  const until = Date.now() + SHARED_BUILD_WAIT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(join(dir, BUILT))) {
    if (existsSync(join(dir, FAILED))) throw new Error(`The preview build (made by another test file) failed:\n${readFileSync(join(dir, FAILED), 'utf8')}`);
    if (Date.now() > until) throw new Error(`The preview build in ${dir} did not finish within ${SHARED_BUILD_WAIT_MS / 60_000} minutes.`);
    Atomics.wait(pause, 0, 0, 200);
  }
  return dir;
}

function viteBuild(outDir: string): void {
  const run = spawnSync(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'static/settings/vite.config.ts', '--mode', 'preview', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'],
    { cwd: root, encoding: 'utf8', env: { ...process.env, PREVIEW_BRIDGE: '1' } },
  );
  if (run.status !== 0) {
    rmSync(outDir, { recursive: true, force: true });
    throw new Error(`The preview build failed:\n${run.stdout}\n${run.stderr}`);
  }
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

export interface InvokeRecord {
  scenario: string;
  functionKey: string;
  payload: unknown;
}

export interface PageServer extends RunningServer {
  invocations: InvokeRecord[];
  /** Payloads the contract's own validators refused: the pages must never send one. */
  refused: string[];
}

/**
 * Serves the build and answers the bridge. The scenario comes from the page's query string
 * (`?scenario=repo-ready&run=3`): `run` keeps call counts apart when one scenario loads twice.
 */
export async function startPageServer(dir: string, scenarios: Record<string, Scenario>): Promise<PageServer> {
  const invocations: InvokeRecord[] = [];
  const refused: string[] = [];
  const counts = new Map<string, number>();

  const scenarioOf = (query: URLSearchParams): [string, Scenario] => {
    const name = query.get('scenario') ?? '';
    const scenario = scenarios[name];
    if (!scenario) throw new Error(`unknown scenario "${name}"`);
    return [name, scenario];
  };

  const router = new Router('/api')
    .on('GET', '/context', (req) => {
      const [, scenario] = scenarioOf(req.query);
      return json(200, {
        moduleKey: MODULE_KEYS[scenario.module],
        extension: { type: scenario.module === 'workspace' ? 'bitbucket:workspaceSettingsMenuPage' : 'bitbucket:repoSettingsMenuPage' },
        theme: { colorMode: req.query.get('theme') === 'dark' ? 'dark' : 'light' },
        locale: 'en-US',
      });
    })
    .on('POST', '/invoke', async (req) => {
      const [name, scenario] = scenarioOf(req.query);
      const { functionKey, payload } = JSON.parse(req.body) as { functionKey: string; payload: unknown };
      invocations.push({ scenario: name, functionKey, payload });
      if (!(RESOLVERS as readonly string[]).includes(functionKey)) return json(404, { message: `no resolver ${functionKey}` });
      const key = functionKey as ResolverName;
      let valid: unknown;
      try {
        valid = validatePayload[key](payload);
      } catch (err) {
        if (!(err instanceof InvalidPayloadError)) throw err;
        refused.push(`${functionKey}: ${err.message}`);
        return json(200, { ok: false, error: err.toResolverError() });
      }
      const handler = scenario.replies[key] as ReplyFn<typeof key> | undefined;
      if (!handler) return json(500, { message: `scenario ${name} has no reply for ${functionKey}` });
      const countKey = `${name}|${req.query.get('run') ?? ''}|${functionKey}`;
      const call = (counts.get(countKey) ?? 0) + 1;
      counts.set(countKey, call);
      return json(200, await (handler as (p: unknown, n: number) => unknown)(valid, call));
    });

  const staticFile = (req: { path: string }): HttpReply => {
    const rel = normalize(req.path === '/' ? '/index.html' : req.path).replace(/^(\.\.[/\\])+/, '');
    const file = join(dir, rel);
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) return { status: 404, body: 'Not Found' };
    return { status: 200, headers: { 'content-type': types[extname(file)] ?? 'application/octet-stream' }, body: readFileSync(file, 'utf8') };
  };

  const server = await serve([router], { notFound: staticFile });
  return Object.assign(server, { invocations, refused });
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Debian's Chromium with a temporary profile; nothing is downloaded, nothing phones home. */
export async function startBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'vb-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1100, height: 900 },
    reducedMotion: 'reduce',
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until the theme's design tokens are in force and no finite animation is running (spinners loop
 * forever and are not waited for): axe measures colours as they are at that instant, and a theme
 * stylesheet still loading, or a fade, makes contrast look wrong.
 */
export async function settle(frame: Frame | Page): Promise<void> {
  await frame.waitForFunction(() => getComputedStyle(document.documentElement).getPropertyValue('--ds-text').trim() !== '', undefined, {
    timeout: 10_000,
  });
  await frame.evaluate(() =>
    Promise.race([
      Promise.all(
        document
          .getAnimations()
          .filter((a) => a.effect?.getTiming().iterations !== Infinity)
          .map((a) => a.finished.catch(() => undefined)),
      ),
      new Promise((resolve) => setTimeout(resolve, 5_000)),
    ]),
  );
}

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/** Serious and critical axe violations of one document (the app's frame, or a host page without its frame). */
export async function axeProblems(target: Frame | Page): Promise<string[]> {
  await target.addScriptTag({ path: join(root, 'node_modules/axe-core/axe.min.js') });
  const violations: AxeViolation[] = await target.evaluate(async () => {
    type AxeResult = { violations: { id: string; impact?: string | null; help: string; nodes: { target: unknown }[] }[] };
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<AxeResult> } }).axe;
    // The host page is scanned on its own: the app's frame has its own scan.
    const result = await axe.run(document, { resultTypes: ['violations'], iframes: false });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact ?? '', help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`);
}
