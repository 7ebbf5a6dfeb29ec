/**
 * The settings pages as a new admin goes through them, in a real browser over the local preview: the
 * workspace page once it is set up, cards and tables that line up, the steps of a job counted ("step
 * n of N") and kept with its result, a second tab that follows a job another tab started, and a key
 * added by hand that Verify reports per repository. Each state is scanned with axe and screenshotted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { checkState, openApp, saveAdminTokens, showTab, startE2e, text, until, type AppView, type E2e } from './preview-support';

const REPO = 'ml-models';
/** acme/ml-models and the Bitbucket repositories its submodules name. */
const ML_TARGETS = ['ml-models', 'datasets', 'training-lib', 'feature-store'];
/** Connected by hand: itself, datasets and training-lib as submodules, feature-store inside training-lib. */
const MANUAL_REPO = 'inference-api';

let e2e: E2e;

before(async () => {
  e2e = await startE2e();
});

after(async () => {
  await e2e?.close();
});

async function noProblems(view: AppView, name: string): Promise<void> {
  assert.deepEqual(await checkState(view, name), [], `axe found serious problems in ${name}`);
}

/** Buttons weigh the design system's medium (500), as in Bitbucket itself. */
async function assertButtonWeights(view: AppView): Promise<void> {
  const frame = await view.frame();
  const { medium, buttons } = await frame.evaluate(() => ({
    medium: getComputedStyle(document.documentElement).getPropertyValue('--ds-font-weight-medium').trim(),
    // A sortable column's header is a button too, styled as the header it is: only the actions are weighed.
    buttons: Array.from(document.querySelectorAll('button:not(th button)'), (e) => `${(e.textContent ?? '').trim()}: ${getComputedStyle(e).fontWeight}`),
  }));
  assert.equal(medium, '500');
  assert.deepEqual(
    buttons.filter((b) => !b.endsWith(': 500')),
    [],
    'buttons weigh 500',
  );
}

/**
 * Every section of the page (flat, a rule above its heading, as in Bitbucket's own settings): its
 * padding, the borders it has besides the rule and its shadow, and how far its first visible content
 * sits below the rule.
 */
async function sections(view: AppView) {
  const frame = await view.frame();
  return frame.evaluate(() =>
    Array.from(document.querySelectorAll('section'))
      // Those shown: the workspace page's other tabs are in the page, hidden.
      .filter((section) => section.getClientRects().length > 0)
      .filter((section) => getComputedStyle(section).borderTopStyle === 'solid' && parseFloat(getComputedStyle(section).borderTopWidth) > 0)
      .map((section) => {
      const box = section.getBoundingClientRect();
      const style = getComputedStyle(section);
      const border = parseFloat(style.borderTopWidth);
      // What is drawn: text and icons (elements without element children), controls, tables and boxes
      // with a background or a border (a message), not the boxes that only lay them out.
      const visible = Array.from(section.querySelectorAll('*')).filter((el) => {
        const r = el.getBoundingClientRect();
        const css = getComputedStyle(el);
        const painted = css.backgroundColor !== 'rgba(0, 0, 0, 0)' || (css.borderBottomStyle !== 'none' && parseFloat(css.borderBottomWidth) > 0);
        const drawn = el.children.length === 0 || painted || el.matches('button, input, textarea, select, table');
        return drawn && r.width > 0 && r.height > 0 && css.visibility !== 'hidden';
      });
      const top = Math.min(...visible.map((el) => el.getBoundingClientRect().top));
      return {
        name: section.getAttribute('data-testid') ?? section.getAttribute('aria-labelledby') ?? '?',
        padding: style.padding,
        otherBorders: ['right', 'bottom', 'left'].filter((side) => parseFloat(style.getPropertyValue(`border-${side}-width`)) > 0),
        shadow: style.boxShadow,
        above: Math.round(top - box.top - border),
      };
    }),
  );
}

/** Flat sections, none a card: the same padding on every one, and each heading as far below its rule. */
async function assertEvenSections(view: AppView): Promise<void> {
  const found = await sections(view);
  assert.ok(found.length > 0, 'the page has sections');
  const paddings = new Set(found.map((c) => c.padding));
  assert.equal(paddings.size, 1, `one padding on every section: ${JSON.stringify(found)}`);
  const first = found[0]?.above ?? 0;
  for (const section of found) {
    assert.deepEqual(section.otherBorders, [], `${section.name}: a rule above it, no card border`);
    assert.equal(section.shadow, 'none', `${section.name}: no shadow`);
    assert.ok(Math.abs(section.above - first) <= 2, `${section.name}: ${section.above}px below its rule, the first ${first}px`);
  }
}

/** Column widths of a table, in pixels, by header. */
async function columnWidths(view: AppView, testId: string): Promise<Record<string, number>> {
  const frame = await view.frame();
  return frame.evaluate((id) => {
    const table = document.querySelector(`[data-testid="${id}--table"]`);
    if (!table) throw new Error(`no table ${id}`);
    return Object.fromEntries(Array.from(table.querySelectorAll('th'), (th) => [(th.textContent ?? '').trim(), Math.round(th.getBoundingClientRect().width)]));
  }, testId);
}

/** Calls a resolver from inside the page's frame, as the page's own buttons do. */
async function resolver(view: AppView, functionKey: string, payload: unknown): Promise<void> {
  const frame = await view.frame();
  const reply = await frame.evaluate(
    async ({ functionKey, payload }) => {
      const res = await fetch(`/api/invoke${window.location.search}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ functionKey, payload }),
      });
      return (await res.json()) as { ok: boolean };
    },
    { functionKey, payload },
  );
  assert.equal(reply.ok, true, `${functionKey} answered ${JSON.stringify(reply)}`);
}

/** "Step 5 of 13" as numbers. */
function stepOf(count: string): { n: number; of: number } {
  const m = /^Step (\d+) of (\d+)$/.exec(count.trim());
  assert.ok(m, `"${count}" says "Step n of N"`);
  return { n: Number(m[1]), of: Number(m[2]) };
}

async function chooseDemoProject(view: AppView): Promise<void> {
  await view.app.locator('#project-select').fill(vh.project.name);
  await view.app.locator('#project-select').press('Enter');
  await until(view.app.getByTestId('connect-form'), new RegExp(`${vh.project.name} \\(${vh.project.owner}\\)`), 10_000);
  await view.app.getByTestId('key-ed25519--radio-input').check();
}

describe('the settings pages as a new admin meets them', () => {
  let repositoryColumns: Record<string, number>;

  test('3. once the tokens work, the workspace page folds the token instructions away and says to open a repository', async () => {
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
    const { app } = ws;
    assert.equal(await app.getByTestId('setup-done').count(), 0, 'nothing is set up yet');
    assert.ok(await app.getByTestId('required-scopes').isVisible(), 'the scopes to tick are shown while no token is stored');
    await assertEvenSections(ws);
    await noProblems(ws, 'pages-workspace-empty');
    await showTab(ws, 'repositories');
    repositoryColumns = await columnWidths(ws, 'repositories');
    await assertEvenSections(ws);
    await noProblems(ws, 'pages-workspace-empty-repositories');
    await showTab(ws, 'setup');

    await saveAdminTokens(app, { valohai: vh.admin.token, email: bb.admin.email, bitbucket: bb.admin.token });
    assert.match(await text(app.getByTestId('bitbucket-state')), /^Stored$/);

    // The token works: its form closes (Stored, Replace, Remove) and how to make one is folded away in
    // it, one click from view once Replace opens it.
    assert.equal(await app.getByTestId('required-scopes').isVisible(), false, 'the scope instructions are folded once the token works');
    assert.equal(await app.getByTestId('bitbucket-token').count(), 0, 'the form is closed under a stored token');
    await app.getByTestId('bitbucket-replace').click();
    assert.equal(await app.getByTestId('required-scopes').isVisible(), false, 'still folded in the opened form');
    const toggle = app.getByTestId('token-instructions-toggle');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    const done = await until(app.getByTestId('setup-done'), /now open a repository/i, 10_000);
    assert.match(done, /Repository settings › Valohai/, 'it says how to get there');
    await assertEvenSections(ws);
    await noProblems(ws, 'pages-workspace-set-up');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    assert.ok(await app.getByTestId('required-scopes').isVisible(), 'unfolded, the scopes are there');
    await assertButtonWeights(ws);
    await noProblems(ws, 'pages-workspace-instructions-open');

    // A fresh load says the same, and its link leads to a repository's Valohai page.
    await ws.page.reload();
    await app.getByTestId('setup-done').waitFor();
    assert.equal(await app.getByTestId('required-scopes').isVisible(), false);
    const link = app.getByTestId('setup-done-link');
    await Promise.all([ws.page.waitForURL(/\/admin\/valohai/), link.click()]);
    await app.getByTestId('connect-form').waitFor();
    await ws.page.close();
  });

  test('1, 5. connect shows "step n of N"; a second tab follows it; the steps stay with the result', async () => {
    const first = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connect-form');
    // The second tab is open on the form before the first one starts.
    const second = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connect-form');
    await chooseDemoProject(first);
    await chooseDemoProject(second);
    assert.deepEqual(await checkState(first, 'pages-connect-form'), []);
    await assertEvenSections(first);

    const gate = e2e.keys.hold();
    try {
      await first.app.getByTestId('connect-button').click();
      await gate.reached;
      await until(first.app.getByTestId('step-generate-key'), /Running/);
      const midway = stepOf(await until(first.app.getByTestId('job-step-count'), /^Step \d+ of \d+$/, 10_000));
      // Four reads and Valohai's preflight, the key, one access key on each repository, Valohai given the key, its fetch, the check.
      assert.deepEqual(midway, { n: 6, of: 5 + 1 + ML_TARGETS.length + 1 + 2 });
      await noProblems(first, 'pages-connect-step-count');

      // The second tab, still showing the form, asks too: it shows that job's progress instead of an error.
      await second.app.getByTestId('connect-button').click();
      await second.app.getByTestId('running-view').waitFor({ timeout: 10_000 });
      assert.match(await text(second.app.getByTestId('running-started-elsewhere')), /already under way/);
      await until(second.app.getByTestId('step-generate-key'), /Running/, 10_000);
      assert.equal(stepOf(await text(second.app.getByTestId('job-step-count'))).of, midway.of);
      assert.equal(await second.app.getByTestId('action-error').count(), 0, 'no "the page shows its progress" without the progress');
      await noProblems(second, 'pages-second-tab-follows');

      // A third tab opened now follows it as well.
      const third = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'running-view');
      await until(third.app.getByTestId('step-generate-key'), /Running/, 10_000);
      await third.page.close();
    } finally {
      gate.release();
    }

    for (const view of [first, second]) {
      await until(view.app.getByTestId('job-outcome'), /Connecting to Valohai: done/);
      await view.app.getByTestId('connected-view').waitFor();
      // The result does not take the steps away: every step is still listed under it, counted.
      const finished = view.app.getByTestId('finished-view');
      assert.equal(await finished.getByTestId('job-steps').locator('li').count(), 5 + 1 + ML_TARGETS.length + 1 + 2);
      assert.match(await text(finished.getByTestId('job-step-count')), new RegExp(`^All ${5 + 1 + ML_TARGETS.length + 1 + 2} steps done$`));
      await finished.getByTestId('job-steps-toggle').click();
      assert.match(await text(finished.getByTestId('step-verify')), /Done/);
    }
    await noProblems(first, 'pages-connect-finished');
    await assertEvenSections(first);
    await second.page.close();
    await first.page.close();
  });

  test('4. table columns keep their widths whatever they hold, and every card has the same padding', async () => {
    await e2e.preview.platform.idle();
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl(), 'repositories-section', 'repositories');
    await until(ws.app.getByTestId('repositories-section'), /Connected/, 10_000);
    // acme/ml-models now has a project and a key age: the columns stay where they were.
    const now = await columnWidths(ws, 'repositories');
    for (const [column, width] of Object.entries(repositoryColumns)) {
      assert.ok(Math.abs((now[column] ?? 0) - width) <= 1, `column ${column}: ${width}px before, ${now[column]}px now`);
    }
    const total = Object.values(now).reduce((a, b) => a + b, 0);
    // The widest by far: a third of the table, the checkbox column counted.
    assert.ok(now.Repository && now.Repository / total >= 1 / 3, `the repository column is the widest: ${JSON.stringify(now)}`);
    assert.equal(Object.entries(now).sort((a, b) => b[1] - a[1])[0]?.[0], 'Repository', JSON.stringify(now));
    await assertEvenSections(ws);
    await noProblems(ws, 'pages-workspace-columns');
    await ws.page.close();

    const repo = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connected-view');
    const keys = await columnWidths(repo, 'access-keys');
    const sum = Object.values(keys).reduce((a, b) => a + b, 0);
    // Half for the repository's name, the rest for its key's state and last use, whatever the names' lengths.
    assert.ok(Math.abs((keys.Repository ?? 0) / sum - 0.5) <= 0.02, `columns of the keys table: ${JSON.stringify(keys)}`);
    await assertEvenSections(repo);
    await repo.page.close();
  });

  test('1. rotate and disconnect count their steps too, and keep them with the result', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connected-view');
    const { app } = view;
    const gate = e2e.keys.hold();
    try {
      await app.getByTestId('rotate-button').click();
      await gate.reached;
      // The key is made while the reads run: once they are done, the job waits on it.
      await until(app.getByTestId('step-generate-key'), /Running/);
      const midway = stepOf(await until(app.getByTestId('job-step-count'), /^Step \d+ of \d+$/, 10_000));
      // As connect, then the old key removed from each repository once the new one is verified.
      assert.deepEqual(midway, { n: 6, of: 5 + 1 + ML_TARGETS.length + 1 + 2 + ML_TARGETS.length });
    } finally {
      gate.release();
    }
    await until(app.getByTestId('job-outcome'), /Rotating the access key: done/);
    assert.match(await text(app.getByTestId('finished-view').getByTestId('job-step-count')), new RegExp(`^All ${5 + 1 + ML_TARGETS.length + 1 + 2 + ML_TARGETS.length} steps done$`));

    await app.getByTestId('disconnect-button').click();
    await app.getByTestId('disconnect-confirm-confirm').click();
    await until(app.getByTestId('job-outcome'), /Disconnecting from Valohai: done/);
    const finished = app.getByTestId('finished-view');
    // Two reads, Valohai's key, one access key from each repository.
    assert.match(await text(finished.getByTestId('job-step-count')), new RegExp(`^All ${3 + ML_TARGETS.length} steps done$`));
    assert.equal(await finished.getByTestId('job-steps').locator('li').count(), 3 + ML_TARGETS.length);
    await app.getByTestId('connect-form').waitFor();
    await noProblems(view, 'pages-disconnect-finished');
    await view.page.close();
  });

  test('2. by hand: a partial Verify says, per repository, where the key works, where it is missing and what was not reached', async () => {
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl(), 'bitbucket-section');
    await resolver(ws, 'clearCredentials', { which: 'bitbucket' });
    await ws.page.close();

    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: MANUAL_REPO }), 'connect-form');
    const { app } = view;
    await app.getByTestId('mode-new--radio-input').check();
    await app.getByTestId('key-ed25519--radio-input').check();
    await app.getByTestId('connect-button').click();
    await until(app.getByTestId('job-outcome'), /The key is made: now add it by hand/);
    await app.getByTestId('manual-view').waitFor();
    assert.equal(await app.getByTestId('manual-checked').count(), 0, 'nothing checked yet');
    const publicKey = await app.getByTestId('public-key').inputValue();
    const label = await app.getByTestId('key-label').inputValue();

    // The admin adds the key to the repository and to libs/training-lib, and forgets datasets.
    const state = e2e.preview.stack.bitbucket.state;
    const addByHand = (slug: string) => {
      const repo = state.findRepo('acme', slug);
      assert.ok(repo);
      state.addAccessKey(repo, { key: publicKey, label });
    };
    addByHand(MANUAL_REPO);
    addByHand('training-lib');

    await app.getByTestId('verify-manual-button').click();
    const outcome = await until(app.getByTestId('job-outcome'), /Verifying the key added by hand: not verified/);
    assert.doesNotMatch(outcome, /Run connect again/, 'nothing to connect again: the key is to be added by hand');
    assert.match(outcome, /The key is not on acme\/datasets yet/);
    await app.getByTestId('manual-view').waitFor();
    const stateOf = (slug: string) => text(app.getByTestId(`manual-key-state-acme/${slug}`));
    assert.equal(await stateOf(MANUAL_REPO), 'Key works');
    assert.equal(await stateOf('training-lib'), 'Key works');
    assert.equal(await stateOf('datasets'), 'Key missing');
    // Valohai stops at the level that failed: the submodule inside training-lib was not reached.
    assert.equal(await stateOf('feature-store'), 'Not reached yet');
    assert.match(await text(app.getByTestId('manual-checked')), /last Verify/);
    await noProblems(view, 'pages-manual-partial-verify');

    // The rest added, Verify connects.
    addByHand('datasets');
    addByHand('feature-store');
    await app.getByTestId('verify-manual-button').click();
    await until(app.getByTestId('job-outcome'), /Verifying the key added by hand: done/);
    await app.getByTestId('connected-view').waitFor();
    await view.page.close();
  });
});
