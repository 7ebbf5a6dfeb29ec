// What the page tests share: the page server over fixtures.ts's scenarios, a browser, and the checks
// every state gets (axe finds nothing serious, a screenshot in test-artifacts/screenshots/).
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { scenarios } from './fixtures';
import { buildPreview, releasePreview, root, startBrowser, startPageServer, type Browser, type PageServer } from './harness';

const shots = join(root, 'test-artifacts/screenshots');
const axePath = join(root, 'node_modules/axe-core/axe.min.js');

let dist: string;
let server: PageServer;
let browser: Browser;
let runs = 0;

/**
 * Starts the page server over the scenario table and a browser for the calling test file (each file
 * its own, so that files run side by side), and stops them when it ends.
 */
export function usePages(): { readonly server: PageServer } {
  before(async () => {
    dist = buildPreview();
    server = await startPageServer(dist, scenarios);
    browser = await startBrowser();
    mkdirSync(shots, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    if (dist) releasePreview(dist);
  });
  return {
    get server() {
      return server;
    },
  };
}

export async function open(scenario: string, options: { theme?: 'dark' | 'light'; ready: string }): Promise<Page> {
  runs += 1;
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${server.url}/?scenario=${scenario}&run=${runs}&theme=${options.theme ?? 'light'}`);
  await page.getByTestId(options.ready).first().waitFor({ state: 'visible', timeout: 15_000 });
  assert.deepEqual(errors, [], 'the page threw');
  return page;
}

export async function axeProblems(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: Array<{ id: string; impact?: string | null; help: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact ?? '', help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`);
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** What the token forms sent: the page's own reads on opening (the fleet's progress) are not the form's doing. */
export const tokenSaves = () => server.invocations.filter((i) => i.functionKey === 'saveValohaiToken' || i.functionKey === 'saveBitbucketToken').length;

/** Presses Tab until every wanted element has had focus (in that order) or `limit` presses pass. */
export async function tabOrder(page: Page, wanted: string[], limit = 60): Promise<string[]> {
  const seen: string[] = [];
  await page.locator('body').focus();
  for (let i = 0; i < limit && seen.length < wanted.length; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => {
      const el = document.activeElement;
      return el?.getAttribute('data-testid') ?? el?.id ?? '';
    });
    if (id === wanted[seen.length]) seen.push(id);
  }
  return seen;
}

/**
 * Waits until the theme's design tokens are in force and no transition is running: axe measures colours
 * as they are at that instant, and a theme stylesheet still loading (or a fade) makes contrast look wrong.
 */
export async function settle(page: Page): Promise<void> {
  await page.waitForFunction(() => getComputedStyle(document.documentElement).getPropertyValue('--ds-text').trim() !== '', undefined, {
    timeout: 10_000,
  });
  // Spinners loop forever: wait only for animations that end.
  await page.evaluate(() =>
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

export async function checkState(page: Page, name: string): Promise<void> {
  await settle(page);
  assert.deepEqual(await axeProblems(page), [], `axe found serious problems in ${name}`);
  await shoot(page, name);
}

/** The test id of the element that has the focus. */
export const focused = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');
