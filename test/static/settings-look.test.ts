// How the settings pages look, as Bitbucket's own settings pages and the design system draw theirs:
// each main state of both pages in light and dark at a laptop's 1366×860, with a screenshot of each in a
// temporary folder (named in the output), and the rules the look stands on: the connection's one
// verdict, its actions seen without scrolling, flat sections (no card borders), each problem said
// once, and axe finding nothing serious.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { axeProblems, settle } from './harness';
import { open, showTab, usePages } from './page-suite';

usePages();

const VIEWPORT = { width: 1366, height: 860 };
const shots = mkdtempSync(join(tmpdir(), 'vb-settings-look-'));
after(() => console.log(`settings look screenshots: ${shots}`));

type Theme = 'light' | 'dark';

async function show(scenario: string, ready: string, theme: Theme): Promise<Page> {
  const page = await open(scenario, { ready, theme });
  await page.setViewportSize(VIEWPORT);
  await settle(page);
  return page;
}

/** Axe clean, then a screenshot of what a visitor first sees and one of the whole page. */
async function record(page: Page, name: string): Promise<void> {
  assert.deepEqual(await axeProblems(page), [], `axe found serious problems in ${name}`);
  await page.screenshot({ path: join(shots, `${name}.png`) });
  await page.screenshot({ path: join(shots, `${name}-full.png`), fullPage: true });
}

/** Sections and anything else drawn as a card: a border on more than one side, or a shadow. */
async function cards(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    for (const el of Array.from(document.querySelectorAll('section, [data-testid$="-section"], [data-testid$="-card"], [data-testid$="-view"]'))) {
      const style = getComputedStyle(el);
      const sides = ['Top', 'Right', 'Bottom', 'Left'].filter(
        (side) => parseFloat(style.getPropertyValue(`border-${side.toLowerCase()}-width`)) > 0 && style.getPropertyValue(`border-${side.toLowerCase()}-style`) !== 'none',
      );
      if (sides.length > 1 || style.boxShadow !== 'none') found.push(`${el.tagName.toLowerCase()}[${el.getAttribute('data-testid') ?? el.getAttribute('aria-labelledby') ?? ''}]: ${sides.join(',')} ${style.boxShadow}`);
    }
    return found;
  });
}

/** Every wanted element lies wholly inside the viewport as the page opens, without scrolling. */
async function seenWithoutScrolling(page: Page, testIds: string[]): Promise<void> {
  assert.equal(await page.evaluate(() => window.scrollY), 0);
  for (const id of testIds) {
    const box = await page.getByTestId(id).boundingBox();
    assert.ok(box, `${id} is shown`);
    assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= VIEWPORT.width && box.y + box.height <= VIEWPORT.height, `${id} is in view: ${JSON.stringify(box)}`);
  }
}

/** How often the page's visible text says something. */
async function times(page: Page, pattern: RegExp): Promise<number> {
  const text = await page.locator('body').innerText();
  return (text.match(new RegExp(pattern.source, 'g')) ?? []).length;
}

const repositoryStates = [
  // scenario, ready, the verdict it shows (null: no connection)
  ['repo-health-healthy', 'connected-view', 'healthy'],
  ['repo-health-degraded', 'connected-view', 'attention'],
  ['repo-health-broken', 'connected-view', 'broken'],
  ['repo-health-paused', 'connected-view', 'paused'],
  ['repo-connected-old-key', 'connected-view', 'attention'],
  ['repo-ready', 'connect-form', null],
  ['repo-manual', 'manual-view', null],
  ['repo-not-set-up', 'not-set-up', null],
] as const;

for (const theme of ['light', 'dark'] as const) {
  describe(`repository page, ${theme}`, () => {
    for (const [scenario, ready, verdict] of repositoryStates) {
      test(`${scenario}: ${verdict ? `one verdict (${verdict}) and its actions in view` : 'no verdict'}, flat sections`, async () => {
        const page = await show(scenario, ready, theme);
        const verdicts = page.getByTestId('connection-verdict');
        if (verdict) {
          assert.equal(await verdicts.count(), 1, 'one verdict per connection');
          assert.equal(await verdicts.getAttribute('data-verdict'), verdict);
          await seenWithoutScrolling(page, ['connection-verdict', 'verify-button', 'rotate-button', 'disconnect-button']);
          assert.equal(await page.getByTestId('disconnect-button').evaluate((b) => getComputedStyle(b).backgroundColor === getComputedStyle(document.querySelector('[data-testid="verify-button"]') as Element).backgroundColor), true, 'Disconnect looks like the other actions: red is for the dialog');
        } else {
          assert.equal(await verdicts.count(), 0);
        }
        assert.deepEqual(await cards(page), [], 'sections are flat');
        await record(page, `${scenario}-${theme}`);
        await page.close();
      });
    }
  });

  describe(`workspace page, ${theme}`, () => {
    for (const [scenario, ready] of [
      ['workspace', 'valohai-section'],
      ['workspace-health', 'valohai-section'],
      ['workspace-fleet', 'valohai-section'],
      ['workspace-member', 'valohai-section'],
    ] as const) {
      test(`${scenario}: four tabs, each with flat sections`, async () => {
        const page = await show(scenario, ready, theme);
        assert.deepEqual(await page.getByRole('tab').allInnerTexts(), ['Setup', 'Repositories', 'Audit', 'Policies']);
        for (const tab of ['setup', 'repositories', 'audit', 'policies'] as const) {
          if (tab !== 'setup') await showTab(page, tab);
          assert.equal(await page.getByRole('tabpanel').count(), 1, 'one panel shown at a time');
          assert.equal(await page.getByTestId(`workspace-tab-${tab}`).getAttribute('aria-selected'), 'true');
          if (tab !== 'setup') assert.equal(await page.evaluate(() => window.location.hash), `#${tab}`, 'the tab chosen is kept in the address');
          assert.deepEqual(await cards(page), [], `sections are flat (${tab})`);
          await record(page, `${scenario}-${tab}-${theme}`);
        }
        await page.close();
      });
    }
  });
}

describe('health timeline', () => {
  test('the marks stand on an axis dated at the oldest check, halfway and the newest', async () => {
    const page = await show('repo-health-healthy', 'health-timeline', 'light');
    const days = await page.getByTestId('health-timeline-axis').locator('time').allInnerTexts();
    assert.equal(days.length, 3, days.join(', '));
    for (const day of days) assert.match(day, /^[A-Z][a-z]{2} \d{1,2}$/);
    const marks = await page.getByTestId('health-timeline-marks').boundingBox();
    const axis = await page.getByTestId('health-timeline-axis').boundingBox();
    assert.ok(marks && axis && Math.abs(marks.width - axis.width) <= 1 && axis.y >= marks.y + marks.height, 'the axis runs under the marks, as wide');
    await page.close();
  });
});

describe('workspace tabs by keyboard', () => {
  test('one Tab stop; the arrow keys, Home and End move along the tabs and show their panels', async () => {
    const page = await show('workspace', 'valohai-section', 'light');
    await page.getByTestId('workspace-tab-setup').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'workspace-tab-repositories');
    assert.ok(await page.getByTestId('repositories-section').isVisible());
    await page.keyboard.press('End');
    assert.ok(await page.getByTestId('policy-section').isVisible());
    await page.keyboard.press('Home');
    assert.ok(await page.getByTestId('valohai-section').isVisible());
    assert.deepEqual(await page.getByRole('tab').evaluateAll((tabs) => tabs.map((t) => t.getAttribute('tabindex'))), ['0', '-1', '-1', '-1']);
    await page.close();
  });
});

describe('each problem is said once', () => {
  test('a 200-day key: one message on the repository page, not again as a finding, a warning or a lozenge', async () => {
    const page = await show('repo-health-degraded', 'connected-view', 'light');
    // The timeline's marks name each check's key age: a record of the checks, not a problem said again.
    assert.equal(await times(page, /over 180 days old|is 200 days old|Rotate soon/), 1);
    await page.close();
  });

  test('a 400-day key: one message', async () => {
    const page = await show('repo-connected-old-key', 'connected-view', 'light');
    assert.equal(await times(page, /over 365 days old|is 400 days old|over a year|Rotate now/), 1);
    await page.close();
  });

  test('a refused token that pauses the checks: its reason once, beside the verdict', async () => {
    const page = await show('repo-health-paused', 'connected-view', 'light');
    assert.equal(await times(page, /Bitbucket refused the stored API token/), 1);
    assert.match(await page.getByTestId('connection-verdict').innerText(), /Paused[\s\S]*Bitbucket refused the stored API token/);
    await page.close();
  });
});
