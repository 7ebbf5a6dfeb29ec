// What the page tests share: the page server over fixtures.ts's scenarios, a browser, and the checks
// every state gets (axe finds nothing serious, a screenshot in test-artifacts/screenshots/).
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { scenarios, type Scenario } from './fixtures';
import { axeProblems, buildPreview, releasePreview, root, settle, startBrowser, startPageServer, type Browser, type PageServer } from './harness';

const shots = join(root, 'test-artifacts/screenshots');

let dist: string;
let server: PageServer;
let browser: Browser;
let runs = 0;

/**
 * Starts the page server over the scenario table (and the calling file's own scenarios, `extra`) and
 * a browser for the calling test file (each file its own, so that files run side by side), and stops
 * them when it ends.
 */
export function usePages(extra: Record<string, Scenario> = {}): { readonly server: PageServer } {
  before(async () => {
    dist = buildPreview();
    server = await startPageServer(dist, { ...scenarios, ...extra });
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

/** The workspace page's tabs: Setup is shown first. */
export type WorkspaceTab = 'setup' | 'repositories' | 'audit' | 'policies';

/** Shows one of the workspace page's tabs. */
export async function showTab(page: Page, tab: WorkspaceTab): Promise<void> {
  await page.getByTestId(`workspace-tab-${tab}`).click();
  await page.getByTestId(`workspace-panel-${tab}`).waitFor({ state: 'visible' });
}

export async function open(scenario: string, options: { theme?: 'dark' | 'light'; ready: string; tab?: WorkspaceTab }): Promise<Page> {
  runs += 1;
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${server.url}/?scenario=${scenario}&run=${runs}&theme=${options.theme ?? 'light'}`);
  if (options.tab) await showTab(page, options.tab);
  await page.getByTestId(options.ready).first().waitFor({ state: 'visible', timeout: 15_000 });
  assert.deepEqual(errors, [], 'the page threw');
  return page;
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
 * What of the code can leak into words a person reads: an object's field named in the text or an
 * accessible name, or a value that never got one.
 */
const CODE_IN_WORDS = /\b(state|props|item|batch|view)\.[a-z]\w*|\bundefined\b|\bNaN\b|\[object Object\]/;

/** The page's text and every accessible name and title it gives, as a screen reader and a mouse find them. */
function wordsOf(page: Page): Promise<string> {
  return page.evaluate(() => {
    const named = Array.from(document.querySelectorAll('[aria-label], [title], [placeholder]')).map((el) =>
      ['aria-label', 'title', 'placeholder'].map((a) => el.getAttribute(a) ?? '').join(' '),
    );
    return `${document.body.innerText}\n${named.join('\n')}`;
  });
}

export async function checkState(page: Page, name: string): Promise<void> {
  await settle(page);
  assert.deepEqual(await axeProblems(page), [], `axe found serious problems in ${name}`);
  const leaked = CODE_IN_WORDS.exec(await wordsOf(page));
  assert.equal(leaked, null, `${name} shows code in its words: ${leaked?.[0]}`);
  await shoot(page, name);
}

/** The test id of the element that has the focus. */
export const focused = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');
