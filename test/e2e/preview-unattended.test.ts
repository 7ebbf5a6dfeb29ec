/**
 * Unattended work never widens access, played in the local preview: Ada (the workspace admin) stores
 * the tokens, leaves "put the key there" on, turns automatic rotation on and connects acme/ml-models.
 * Then Wes, who may write to ml-models but has no access to acme/crown-jewels, pushes a .gitmodules
 * naming crown-jewels from the preview bar, and everything that runs with nobody at the keyboard runs:
 * the push trigger, the hourly check, another push, and the clock moved past the rotation age with the
 * hourly check again. The stored token is Ada's and could reach crown-jewels; no person granted it, so
 * crown-jewels must never get the connection's key, and Ada's page must say it needs an admin.
 *
 * Everything is done through the preview (its pages and its bar) in a real browser; the stand-ins'
 * state is read only to check what happened.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { axeProblems, checkState, headOf, openApp, shoot, showTab, startE2e, text, until, type AppView, type E2e } from './preview-support';

const REPO = 'ml-models';
const JEWELS = 'crown-jewels';

let e2e: E2e;
/** After each piece of unattended work: the access keys crown-jewels held (label per key). */
const jewelKeysAfter: { step: string; labels: string[] }[] = [];

before(async () => {
  e2e = await startE2e();
});

after(async () => {
  await e2e?.close();
});

/** Every access key on acme/crown-jewels, as Bitbucket holds them: none was ever granted. */
function jewelKeys(): string[] {
  const state = e2e.preview.stack.bitbucket.state;
  const repo = state.findRepo('acme', JEWELS);
  assert.ok(repo, `acme/${JEWELS} is in the preview's seed`);
  return state.listAccessKeys(repo).map((k) => k.label);
}

function note(step: string): void {
  jewelKeysAfter.push({ step, labels: jewelKeys() });
}

/** The bar's push: as whom, and what .gitmodules gets; returns the status line once it says what happened. */
async function pushFromBar(view: AppView, as: string, change: string): Promise<string> {
  await view.page.getByTestId('push-as').selectOption(as);
  await view.page.getByTestId('push-submodule').selectOption(change);
  await view.page.getByTestId('push-commit').click();
  return until(view.page.getByTestId('push-status'), /^(Pushed|.* Bitbucket takes a push only)/);
}

/** The bar's "Run the hourly check": returns what it says it did. */
async function runHourlyCheck(view: AppView): Promise<string> {
  await view.page.getByTestId('run-schedule').click();
  return until(view.page.getByTestId('push-status'), /^Scheduled check: /);
}

/** The bar's clock control: the host page reloads, saying how far ahead the clock runs. */
async function moveClockOn(view: AppView, days: '181' | '365'): Promise<void> {
  await Promise.all([view.page.waitForURL(/notice=/), view.page.getByTestId('clock-days').selectOption(days)]);
  await until(view.page.getByTestId('host-notice'), /days ahead/);
}

describe('a writer names a repository nobody gave them, and unattended work runs', () => {
  test('Ada stores the tokens, keeps "put the key there" on and turns automatic rotation on', async () => {
    assert.deepEqual(jewelKeys(), [], 'crown-jewels starts with no access key');
    const view = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
    const { app, page } = view;
    await app.getByTestId('valohai-token').fill(vh.admin.token);
    await app.getByTestId('valohai-save').click();
    await until(app.getByTestId('valohai-saved'), /Saved/);
    await app.getByTestId('bitbucket-email').fill(bb.admin.email);
    await app.getByTestId('bitbucket-token').fill(bb.admin.token);
    await app.getByTestId('bitbucket-save').click();
    await until(app.getByTestId('bitbucket-saved'), /Saved/);

    await showTab(view, 'policies');
    await app.getByTestId('policy-section').waitFor();
    // The attack's best chance: what is missing is put back where the stored token can.
    assert.ok(await app.getByTestId('policy-drift-repair--radio-input').isChecked(), '"Put the key there" is the default');
    await app.getByTestId('policy-rotate-on--radio-input').check();
    assert.equal(await app.getByTestId('policy-every-days').inputValue(), '180');
    await app.getByTestId('policy-save').click();
    await app.getByTestId('policy-saved').waitFor();
    await until(app.getByTestId('automation-rotations'), /^Automatic rotations today: 0 of at most 5\.$/);
    assert.deepEqual(view.errors, []);
    await page.close();
  });

  test('Ada connects acme/ml-models from its page', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connect-form');
    const { app, page } = view;
    await app.locator('#project-select').fill(vh.project.name);
    await app.locator('#project-select').press('Enter');
    await until(app.getByTestId('connect-form'), new RegExp(`${vh.project.name} \\(${vh.project.owner}\\)`), 10_000);
    await app.getByTestId('key-ed25519--radio-input').check();
    await app.getByTestId('connect-button').click();
    await until(app.getByTestId('job-outcome'), /Connecting to Valohai: done/);
    await app.getByTestId('connected-view').waitFor();
    assert.deepEqual(jewelKeys(), [], 'connecting gave crown-jewels nothing: ml-models does not name it');
    assert.deepEqual(view.errors, []);
    await page.close();
  });

  test('Wes pushes a .gitmodules naming crown-jewels from the bar; the push trigger runs', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO, as: 'writer' }), 'read-only');
    const { page } = view;
    assert.equal(await page.getByTestId('push-as').inputValue(), 'writer', 'the bar pushes as the person acted as');
    // The bar with its push controls, light and dark, passes axe.
    assert.deepEqual(await axeProblems(page), [], 'axe found serious problems in the host page');
    const before = await headOf(e2e.preview, REPO);

    // Bitbucket would refuse a reader's push, and so does the preview.
    const refused = await pushFromBar(view, 'reader', 'add:crown-jewels');
    assert.match(refused, /^Rita Reader may only read acme\/ml-models, and Bitbucket takes a push only from someone with write access\./);
    assert.equal(await headOf(e2e.preview, REPO), before, 'the refused push committed nothing');

    const status = await pushFromBar(view, 'writer', 'add:crown-jewels');
    assert.match(status, /^Pushed [0-9a-f]{7} to main as Wes Writer, adding submodule vendor\/crown-jewels \(git@bitbucket\.org:acme\/crown-jewels\.git\)\./);
    const head = await headOf(e2e.preview, REPO);
    assert.notEqual(head, before);
    assert.ok(status.includes(head.slice(0, 7)));
    // The choices follow the new .gitmodules: crown-jewels can now be removed, not added again.
    const choices = page.getByTestId('push-submodule');
    assert.equal(await choices.inputValue(), '');
    assert.equal(await choices.locator('option[value="remove:vendor/crown-jewels"]').count(), 1);
    assert.equal(await choices.locator('option[value="add:crown-jewels"]').isDisabled(), true);
    await shoot(page, 'unattended-pushed');
    await Promise.all([page.waitForURL(/theme=dark/), page.getByTestId('theme').selectOption('dark')]);
    await page.getByTestId('push-submodule').waitFor();
    assert.deepEqual(await axeProblems(page), [], 'axe found serious problems in the dark host page');
    await shoot(page, 'unattended-bar-dark');
    assert.deepEqual(view.errors, []);
    await page.close();
    note('the push trigger of the push naming crown-jewels');
  });

  test('the hourly check runs, Wes pushes again, and the clock moves past the rotation age', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO, as: 'writer' }), 'read-only');
    assert.match(await runHourlyCheck(view), /checked acme\/ml-models/);
    note('the hourly check');

    assert.match(await pushFromBar(view, 'writer', ''), /^Pushed [0-9a-f]{7} to main as Wes Writer\./);
    note('the push trigger of a second push');

    // Automatic rotation is on (the first test), every 180 days: 181 days on, the key is due.
    await moveClockOn(view, '181');
    const ran = await runHourlyCheck(view);
    assert.match(ran, /acme\/ml-models/, 'the check after the clock moved on looked at ml-models');
    note(`the hourly check 181 days on ("${ran}")`);
    await view.page.close();
  });

  test("Ada's routine bulk rotate from the workspace page refuses ml-models, naming crown-jewels", async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl(), 'repositories-section', 'repositories');
    const { app } = view;
    await app.getByTestId(`repo-select-acme/${REPO}--hidden-checkbox`).check();
    await app.getByTestId('batch-plan-rotate').click();
    const dialog = app.getByRole('dialog');
    await until(dialog, /Rotate 1 repository\?/, 10_000);
    // The plan names every repository the item touches: the ones a person granted, crown-jewels not among them.
    assert.doesNotMatch(await text(app.getByTestId('batch-plan-act')), /crown-jewels/);
    await app.getByTestId('batch-plan-start').click();
    const summary = await until(app.getByTestId('batch-summary'), /Bulk rotate done/, 60_000);
    assert.match(summary, /1 of 1 failed/);
    assert.match(await text(app.getByTestId('batch-failed')), /crown-jewels/);
    assert.deepEqual(await checkState(view, 'unattended-bulk-refused'), []);
    note('a bulk rotate');
    await view.page.close();
  });

  test('crown-jewels never held a key: no unattended work put one where no person granted it', () => {
    assert.equal(jewelKeysAfter.length, 5, 'every step ran');
    const widened = jewelKeysAfter.filter((s) => s.labels.length > 0).map((s) => `after ${s.step}: ${s.labels.join(', ')}`);
    assert.deepEqual(widened, [], 'acme/crown-jewels got an access key');
    assert.deepEqual(jewelKeys(), [], 'acme/crown-jewels holds no access key now');
  });

  test('Ada sees on the repository page that crown-jewels needs an admin', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: REPO }), 'connected-view');
    const page = view.app.locator('body');
    await until(page, /needs an admin/i, 15_000).catch(async () => {
      await shoot(view.page, 'unattended-needs-admin-missing');
      assert.fail(`the page does not say that a repository needs an admin; it says:\n${await text(page)}`);
    });
    assert.match(await text(page), /crown-jewels/);
    assert.deepEqual(await checkState(view, 'unattended-needs-admin'), []);
    await view.page.close();
  });
});
