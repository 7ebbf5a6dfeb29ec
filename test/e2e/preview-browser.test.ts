/**
 * The settings pages end to end in a real browser, inside the local preview: the real backend on the
 * in-memory Forge platform, the Bitbucket emulator, the SSH git host and the Valohai emulator whose
 * fetch runs real git over SSH. Everything is done as a user does it (clicks, typing, the keyboard,
 * the host page's own controls) and read from the page; the stand-ins' state is read only to check
 * that what the page says is true.
 *
 * The flows build on each other, in this order: tokens stored, acme/ml-models connected (Ed25519),
 * a push fetched, the key rotated, disconnected; then the Bitbucket token removed and
 * acme/inference-api connected by hand (the one RSA 4096 key, the default); then a wrong Valohai
 * token and the non-admins. Every state is screenshotted and scanned with axe inside the app's frame;
 * at the end every resolver answer the browser received is searched for secrets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLabelFor } from '../../src/connect/index';
import { parsePublicKey } from '../../src/ssh/index';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { assertInvariant } from '../support/e2e';
import {
  appView,
  axeProblems,
  checkState,
  headOf,
  openApp,
  privateKeyLines,
  secretFindings,
  shoot,
  showTab,
  startE2e,
  text,
  until,
  type AppView,
  type E2e,
} from './preview-support';

const WRONG_VALOHAI_TOKEN = 'vh-not-a-real-token-000000000000000000000';
/**
 * The repositories that get acme/ml-models' key: itself and every Bitbucket repository its submodules
 * name by SSH or by a relative URL. The public docs-site, named by an https:// URL, is fetched without
 * credentials and gets no key.
 */
const ML_TARGETS = ['ml-models', 'datasets', 'training-lib', 'feature-store'];
const INFERENCE_TARGETS = ['inference-api', 'datasets', 'training-lib', 'feature-store'];
const FINGERPRINT = /SHA256:[A-Za-z0-9+/]{43}/;

let e2e: E2e;

before(async () => {
  e2e = await startE2e();
});

after(async () => {
  await e2e?.close();
});

function fingerprintIn(value: string): string {
  const match = FINGERPRINT.exec(value);
  assert.ok(match, `no SHA256 fingerprint in "${value}"`);
  return match[0];
}

/** The keys this app put on a repository for a Valohai project, as Bitbucket holds them. */
function appKeys(slug: string, projectId: string) {
  const state = e2e.preview.stack.bitbucket.state;
  const repo = state.findRepo('acme', slug);
  assert.ok(repo, `no repository acme/${slug}`);
  return state.listAccessKeys(repo).filter((k) => isLabelFor(k.label, projectId));
}

function allAcmeKeys() {
  const state = e2e.preview.stack.bitbucket.state;
  return state.repos.filter((r) => r.workspace.slug === 'acme').flatMap((r) => state.listAccessKeys(r).map((k) => ({ slug: r.slug, label: k.label, key: k.key })));
}

/** Repository names listed in the connected view's "Repositories holding the key" table, with their state. */
async function holdingRows(view: AppView): Promise<Map<string, string>> {
  const rows = view.app.getByTestId('access-keys--table').locator('tbody tr');
  const out = new Map<string, string>();
  for (const row of await rows.all()) {
    const cells = await row.locator('td').allInnerTexts();
    out.set((cells[0] ?? '').trim(), (cells[1] ?? '').trim());
  }
  return out;
}

/**
 * Computed font weights in the app's frame: field labels and table headers must weigh what the design
 * system's bold token says (653), buttons its medium (500), as in Bitbucket itself.
 */
async function fontWeights(view: AppView) {
  const frame = await view.frame();
  return frame.evaluate(() => {
    const root = getComputedStyle(document.documentElement);
    return {
      bold: root.getPropertyValue('--ds-font-weight-bold').trim(),
      medium: root.getPropertyValue('--ds-font-weight-medium').trim(),
      labels: Array.from(document.querySelectorAll('label[for]'), (e) => `${(e.textContent ?? '').trim()}: ${getComputedStyle(e).fontWeight}`),
      headers: Array.from(document.querySelectorAll('th'), (e) => `${(e.textContent ?? '').trim()}: ${getComputedStyle(e).fontWeight}`),
      // A sortable column's header is a button inside its th, weighed with the headers above.
      buttons: Array.from(document.querySelectorAll('button:not(th button)'), (e) => `${(e.textContent ?? '').trim()}: ${getComputedStyle(e).fontWeight}`),
    };
  });
}

async function assertDesignSystemWeights(view: AppView, what: { labels: number; headers: number; buttons: number }): Promise<void> {
  const weights = await fontWeights(view);
  assert.equal(weights.bold, '653', "the design system's bold weight");
  assert.equal(weights.medium, '500', "the design system's medium weight");
  for (const [kind, expected] of [
    ['labels', weights.bold],
    ['headers', weights.bold],
    ['buttons', weights.medium],
  ] as const) {
    const seen = weights[kind];
    assert.ok(seen.length >= what[kind], `at least ${what[kind]} ${kind} on the page: ${seen.join(', ')}`);
    assert.deepEqual(
      seen.filter((s) => !s.endsWith(`: ${expected}`)),
      [],
      `${kind} weigh ${expected}, as the design system sets them`,
    );
  }
}

/** The data-testid of the element holding the focus in the app's frame ('body' when nothing does). */
async function focused(view: AppView): Promise<string> {
  const frame = await view.frame();
  return frame.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'body';
    return el.getAttribute('data-testid') ?? el.tagName.toLowerCase();
  });
}

async function waitForFocus(view: AppView, testId: string): Promise<void> {
  const frame = await view.frame();
  await frame
    .waitForFunction((id) => document.activeElement?.getAttribute('data-testid') === id, testId, { timeout: 10_000 })
    .catch(async () => assert.fail(`focus is on ${await focused(view)}, not ${testId}`));
}

async function noProblems(view: AppView, name: string): Promise<void> {
  assert.deepEqual(await checkState(view, name), [], `axe found serious problems in ${name}`);
}

async function assertNoEnabledActions(view: AppView, testIds: string[]): Promise<void> {
  for (const id of testIds) {
    const button = view.app.getByTestId(id);
    if ((await button.count()) === 0) continue;
    assert.equal(await button.isEnabled(), false, `${id} is enabled for a non-admin`);
  }
}

describe('the settings pages in the local preview', () => {
  test('1. the admin stores both tokens; the page says whose they are and never shows them again', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
    const { app, page } = view;
    assert.match(await text(app.getByTestId('valohai-state')), /Not set/);

    // The host page around the app, once.
    assert.deepEqual(await axeProblems(page), [], 'axe found serious problems in the host page');
    await noProblems(view, 'workspace-empty');

    await app.getByTestId('valohai-token').fill(vh.admin.token);
    await app.getByTestId('valohai-save').click();
    assert.match(await until(app.getByTestId('valohai-saved'), /Saved/), new RegExp(`Saved the Valohai token of ${vh.admin.username}`));
    assert.equal(await app.getByTestId('valohai-token').count(), 0, 'saved, the form closes and the token field with it');
    assert.match(await text(app.getByTestId('valohai-owner')), new RegExp(`A token of ${vh.admin.username} on https://app\\.valohai\\.com is stored`));

    await app.getByTestId('bitbucket-email').fill(bb.admin.email);
    await app.getByTestId('bitbucket-token').fill(bb.admin.token);
    await app.getByTestId('bitbucket-token').press('Enter');
    assert.match(await until(app.getByTestId('bitbucket-saved'), /Saved/), new RegExp(`Saved the Bitbucket API token of ${bb.admin.displayName}`));
    assert.match(await text(app.getByTestId('bitbucket-owner')), new RegExp(`A token of ${bb.admin.displayName} \\(${bb.admin.email}\\) is stored`));
    assert.match(await text(app.getByTestId('bitbucket-state')), /^Stored$/);
    assert.equal(await app.getByTestId('missing-scopes').count(), 0);
    await noProblems(view, 'workspace-stored');
    await assertDesignSystemWeights(view, { labels: 4, headers: 4, buttons: 4 });

    // Neither token is anywhere in the frame: not in its HTML, not in a field's value; nor after a reload.
    const leaks = async () => {
      const frame = await view.frame();
      const html = await frame.content();
      const values = await frame.evaluate(() => Array.from(document.querySelectorAll('input, textarea'), (el) => (el as HTMLInputElement).value).join('\n'));
      return [vh.admin.token, bb.admin.token].filter((t) => html.includes(t) || values.includes(t));
    };
    assert.deepEqual(await leaks(), []);
    await page.reload();
    await until(app.getByTestId('valohai-owner'), new RegExp(vh.admin.username));
    assert.match(await text(app.getByTestId('bitbucket-owner')), new RegExp(bb.admin.displayName));
    assert.deepEqual(await leaks(), []);
    assert.deepEqual(view.errors, [], 'the page threw');
    await page.close();
  });

  test('2. connect acme/ml-models: the preview first, the steps live, then connected and verified', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: 'ml-models' }), 'connect-form');
    const { app } = view;
    const state = e2e.preview.stack;
    assert.equal(await app.getByTestId('manual-notice').count(), 0, 'a Bitbucket token is stored: keys are added automatically');
    assert.equal(await app.getByTestId('fetch-ref').inputValue(), 'main');
    assert.ok(await app.getByTestId('submodules-on--radio-input').isChecked());
    assert.ok(await app.getByTestId('key-rsa--radio-input').isChecked(), 'RSA 4096 is the default');

    await app.locator('#project-select').fill(vh.project.name);
    await app.locator('#project-select').press('Enter');
    await until(app.getByTestId('connect-form'), new RegExp(`${vh.project.name} \\(${vh.project.owner}\\)`), 10_000);
    await app.getByTestId('key-ed25519--radio-input').check();

    await app.getByTestId('preview-button').click();
    const preview = app.getByTestId('preview');
    await preview.waitFor();
    const head = await headOf(e2e.preview, 'ml-models');
    const previewText = await text(preview);
    assert.match(previewText, /git@bitbucket\.org:acme\/ml-models\.git/);
    assert.ok(previewText.includes(head.slice(0, 12)), 'the preview names the head commit');
    const targets = await text(app.getByTestId('preview-targets--table'));
    for (const slug of ML_TARGETS) assert.ok(targets.includes(`acme/${slug}`), `the preview lists acme/${slug}`);
    // Nothing changed yet.
    assert.deepEqual(allAcmeKeys(), [], 'no access key before connecting');
    assert.equal(state.valohai.state.repository(vh.project.repositoryId)?.sshKeySet, false);
    assert.deepEqual(state.valohai.state.fetches(vh.project.id), []);
    await noProblems(view, 'connect-preview');
    await assertDesignSystemWeights(view, { labels: 2, headers: 2, buttons: 2 });

    // Hold the key generation: the job stops half way and the page shows where it is.
    const gate = e2e.keys.hold();
    await app.getByTestId('connect-button').click();
    await app.getByTestId('running-view').waitFor();
    await gate.reached;
    // The Connect button went away with the form: focus is on the steps that replaced it.
    await waitForFocus(view, 'running-view');
    await until(app.getByTestId('step-generate-key'), /Running[\s\S]*Generating an Ed25519 key pair/);
    // Steps name the project, never by its id.
    assert.match(await text(app.getByTestId('step-valohai-project')), new RegExp(`Found Valohai project ${vh.project.owner}/${vh.project.name}`));
    assert.ok(!(await text(app.getByTestId('job-steps'))).includes(vh.project.id), 'no project id in the steps');
    assert.match(await text(app.getByTestId('job-status')), /Running/);
    assert.match(await text(app.getByTestId('step-read-repository')), /Done[\s\S]*Reading acme\/ml-models/);
    assert.equal(await app.getByTestId('job-steps').getAttribute('aria-live'), 'polite');
    await noProblems(view, 'connect-running');
    assert.deepEqual(allAcmeKeys(), [], 'no access key before the key exists');
    gate.release();

    const outcome = app.getByTestId('job-outcome');
    assert.match(await until(outcome, /Connecting to Valohai: done/), /Valohai fetched the repository and sees its head commit/);
    await app.getByTestId('connected-view').waitFor();
    await waitForFocus(view, 'finished-view');
    // The steps stay beside the result.
    // The outcome is the one message; its steps are folded in it until opened.
    assert.equal(await app.getByTestId('finished-view').getByTestId('step-verify').isVisible(), false);
    await app.getByTestId('finished-view').getByTestId('job-steps-toggle').click();
    assert.match(await text(app.getByTestId('finished-view').getByTestId('step-verify')), /Done/);
    // A warning shown in the result is not repeated in the connection's card.
    // Both lists render with the connected view, or not at all: read them as they are, without waiting.
    const shown = await app.getByTestId('outcome-warnings').locator('li').allInnerTexts();
    const card = (await app.getByTestId('connection-warnings').allInnerTexts()).join('\n');
    for (const warning of shown) assert.ok(!card.includes(warning.trim().split('\n')[0] ?? ''), `"${warning}" is shown twice`);
    assert.equal((await text(app.getByTestId('fact-key-age'))).trim(), 'today');
    assert.equal(
      await app.getByTestId('fact-bitbucket-head').getByRole('link').getAttribute('href'),
      `https://bitbucket.org/acme/ml-models/commits/${head}`,
      "the head commit links to Bitbucket's commit page",
    );
    const fingerprint = fingerprintIn(await text(app.getByTestId('fact-fingerprint')));
    assert.match(await text(app.getByTestId('fact-fingerprint')), /^Ed25519 SHA256:/);
    assert.match(await text(app.getByTestId('sync-state')), /^In sync$/);
    assert.equal((await text(app.getByTestId('fact-bitbucket-head'))).trim(), head.slice(0, 12));
    assert.match(await text(app.getByTestId('fact-valohai-commit')), new RegExp(`^${head.slice(0, 12)}`));
    assert.match(await text(app.getByTestId('fact-push-fetch')), /no push since connecting/);
    const rows = await holdingRows(view);
    assert.deepEqual([...rows.keys()].sort(), ML_TARGETS.map((s) => `acme/${s}`).sort());
    for (const [repo, stateText] of rows) assert.match(stateText, /Present/, `${repo} holds the key`);

    // The truth behind it: the same key on every repository, Valohai holds it and fetched the head.
    for (const slug of ML_TARGETS) {
      const keys = appKeys(slug, vh.project.id);
      assert.equal(keys.length, 1, `acme/${slug} holds one key of this connection`);
      assert.equal(parsePublicKey(keys[0]?.key ?? '').fingerprint, fingerprint, `acme/${slug} holds the key the page shows`);
    }
    const repository = state.valohai.state.repository(vh.project.repositoryId);
    assert.equal(repository?.sshKeyFingerprint, fingerprint);
    assert.equal(repository?.url, 'git@bitbucket.org:acme/ml-models.git');
    assert.equal(repository?.ref, 'main');
    assert.ok(state.valohai.state.commits(vh.project.id).some((c) => c.identifier === head), 'Valohai has the head commit');
    await assertInvariant(state, vh.project.repositoryId, 'acme', ML_TARGETS);
    await noProblems(view, 'connected');

    // The same state in the dark theme, chosen with the host page's control.
    await Promise.all([view.page.waitForURL(/theme=dark/), view.page.getByTestId('theme').selectOption('dark')]);
    await app.getByTestId('connected-view').waitFor();
    const frame = await view.frame();
    await frame.waitForFunction(() => document.documentElement.getAttribute('data-color-mode') === 'dark');
    await noProblems(view, 'connected-dark');
    assert.deepEqual(view.errors, [], 'the page threw');
    await view.page.close();
  });

  test('3. a push from the host page makes Valohai fetch it; the page shows the new head in sync', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: 'ml-models' }), 'connected-view');
    const { app, page } = view;
    const before = await headOf(e2e.preview, 'ml-models');
    await page.getByTestId('push-commit').click();
    const status = await until(page.getByTestId('push-status'), /^Pushed /);
    const head = await headOf(e2e.preview, 'ml-models');
    assert.notEqual(head, before, 'a commit was pushed');
    assert.equal(status, `Pushed ${head.slice(0, 7)} to main. Valohai fetched 1 new commit.`);

    // The host reloads the frame: the connected view comes back with the new head.
    await until(app.getByTestId('fact-bitbucket-head'), new RegExp(head.slice(0, 12)));
    assert.match(await text(app.getByTestId('fact-valohai-commit')), new RegExp(`^${head.slice(0, 12)}`));
    assert.match(await text(app.getByTestId('sync-state')), /^In sync$/);
    assert.match(await text(app.getByTestId('fact-push-fetch')), /: 1 new commit$/);

    const valohai = e2e.preview.stack.valohai.state;
    assert.equal(valohai.commits(vh.project.id)[0]?.identifier, head, "Valohai's newest commit is the pushed one");
    const fetch = valohai.fetches(vh.project.id).at(-1);
    assert.deepEqual(fetch?.newCommits, [head]);
    assert.deepEqual(fetch?.errors, []);
    await noProblems(view, 'pushed');
    await page.close();
  });

  test('4. rotate: a new key everywhere, the old one nowhere, still verified', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: 'ml-models' }), 'connected-view');
    const { app } = view;
    const oldFingerprint = fingerprintIn(await text(app.getByTestId('fact-fingerprint')));
    const oldKeys = new Set(ML_TARGETS.flatMap((slug) => appKeys(slug, vh.project.id).map((k) => k.key)));
    assert.equal(oldKeys.size, 1, 'one key on every repository before rotating');

    await app.getByTestId('rotate-button').click();
    const outcome = app.getByTestId('job-outcome');
    assert.match(await until(outcome, /Rotating the access key: done/), /Valohai fetched the repository and sees its head commit/);
    await app.getByTestId('connected-view').waitFor();
    await waitForFocus(view, 'finished-view');
    const fingerprint = fingerprintIn(await text(app.getByTestId('fact-fingerprint')));
    assert.notEqual(fingerprint, oldFingerprint, 'the page shows a new fingerprint');
    assert.match(await text(app.getByTestId('fact-fingerprint')), /^Ed25519 /, 'the key type is kept');
    assert.match(await text(app.getByTestId('sync-state')), /^In sync$/);
    const rows = await holdingRows(view);
    assert.deepEqual([...rows.keys()].sort(), ML_TARGETS.map((s) => `acme/${s}`).sort());
    for (const [repo, stateText] of rows) assert.match(stateText, /Present/, `${repo} holds the new key`);

    for (const slug of ML_TARGETS) {
      const keys = appKeys(slug, vh.project.id);
      assert.equal(keys.length, 1, `acme/${slug} holds exactly one key of this connection`);
      assert.equal(parsePublicKey(keys[0]?.key ?? '').fingerprint, fingerprint, `acme/${slug} holds the new key`);
    }
    const everyKey = allAcmeKeys().map((k) => k.key);
    for (const old of oldKeys) assert.ok(!everyKey.includes(old), 'the old key is gone from every repository');
    assert.equal(e2e.preview.stack.valohai.state.repository(vh.project.repositoryId)?.sshKeyFingerprint, fingerprint);
    await assertInvariant(e2e.preview.stack, vh.project.repositoryId, 'acme', ML_TARGETS);
    await noProblems(view, 'rotated');
    await view.page.close();
  });

  test('5. disconnect, confirmed with the keyboard: back to ready, no key left anywhere', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: 'ml-models' }), 'connected-view');
    const { app, page } = view;
    // A modal dialog asks first; Escape closes it and the focus goes back to the button.
    await app.getByTestId('disconnect-button').click();
    const dialog = app.getByRole('dialog');
    await dialog.waitFor();
    assert.match(await text(dialog), new RegExp(`removes the access key from ${ML_TARGETS.length} repositories`));
    await waitForFocus(view, 'disconnect-confirm-cancel');
    await noProblems(view, 'disconnect-confirm');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await waitForFocus(view, 'disconnect-button');
    assert.equal(await app.getByTestId('connected-view').count(), 1, 'Escape disconnected nothing');

    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await waitForFocus(view, 'disconnect-confirm-cancel');
    await page.keyboard.press('Tab');
    assert.equal(await focused(view), 'disconnect-confirm-confirm');
    await page.keyboard.press('Enter');
    await waitForFocus(view, 'running-view');

    await until(app.getByTestId('job-outcome'), /Disconnecting from Valohai: done/);
    await app.getByTestId('connect-form').waitFor();
    await waitForFocus(view, 'finished-view');
    // What Valohai's fetch would meet in the submodules is moot after a disconnect.
    assert.equal(await app.getByTestId('outcome-warning-https-submodule').count(), 0, 'no fetch warning outlives the disconnect');
    assert.deepEqual(
      allAcmeKeys().filter((k) => k.label.startsWith('Valohai')).map((k) => `${k.slug}: ${k.label}`),
      [],
      "no access key with the app's label is left",
    );
    const repository = e2e.preview.stack.valohai.state.repository(vh.project.repositoryId);
    assert.equal(repository?.sshKeySet, false, 'Valohai holds no key');
    await noProblems(view, 'disconnected');
    await page.close();
  });

  test('6. manual mode: without a Bitbucket token the key is added by hand on each repository, then verified', async () => {
    // The Bitbucket token goes; the Valohai token stays.
    const workspace = await openApp(e2e.browser, e2e.preview.pageUrl(), 'bitbucket-section');
    await workspace.app.getByTestId('bitbucket-clear').click();
    await workspace.app.getByRole('dialog').waitFor();
    await noProblems(workspace, 'workspace-remove-token');
    await workspace.app.getByTestId('bitbucket-clear-confirm-confirm').click();
    await until(workspace.app.getByTestId('bitbucket-state'), /^Not set$/, 10_000);
    assert.match(await text(workspace.app.getByTestId('valohai-state')), /^Stored$/);
    const secrets = [...e2e.preview.platform.secrets.dump().values()].join('\n');
    assert.ok(!secrets.includes(bb.admin.token), 'the Bitbucket token is no longer stored');
    assert.ok(secrets.includes(vh.admin.token), 'the Valohai token is still stored');

    // To the repository through the host's sidebar, as a person would.
    const { page } = workspace;
    await Promise.all([page.waitForURL(/\/acme\/inference-api\/admin\/valohai/), page.getByRole('link', { name: 'inference-api', exact: true }).click()]);
    const view = appView(page);
    const { app } = view;
    await app.getByTestId('connect-form').waitFor();
    assert.match(await text(app.getByTestId('manual-notice')), /The access key will be added by hand/);
    assert.equal(await text(app.getByTestId('connect-button')), 'Connect (add key by hand)');
    await app.getByTestId('mode-new--radio-input').check();
    assert.equal(await app.getByTestId('project-name').inputValue(), 'inference-api');
    assert.match(await text(app.getByTestId('project-owner-select--container')), new RegExp(vh.organization));
    assert.ok(await app.getByTestId('key-rsa--radio-input').isChecked(), 'this connect keeps the default RSA 4096');
    await app.getByTestId('connect-button').click();

    await until(app.getByTestId('job-outcome'), /The key is made: now add it by hand/);
    await app.getByTestId('manual-view').waitFor();
    const publicKey = await app.getByTestId('public-key').inputValue();
    assert.match(publicKey, /^ssh-rsa AAAA/);
    assert.equal(await app.getByTestId('public-key').getAttribute('readonly'), '');
    const label = await app.getByTestId('key-label').inputValue();
    const fingerprint = parsePublicKey(publicKey).fingerprint;
    assert.ok((await text(app.getByTestId('manual-view'))).includes(fingerprint), 'the page shows the key fingerprint');
    await app.getByTestId('public-key-copy').click();
    await until(app.getByTestId('public-key-note'), /copied|Ctrl\+C/, 10_000);

    const project = e2e.preview.stack.valohai.state.projectByName(vh.organization, 'inference-api');
    assert.ok(project?.repository, 'the new Valohai project exists with a repository');
    assert.ok(isLabelFor(label, project.id), 'the label names the new project');
    for (const slug of INFERENCE_TARGETS) assert.deepEqual(appKeys(slug, project.id), [], `nothing was added to acme/${slug} yet`);

    const links = app.getByTestId('manual-targets').getByRole('link');
    assert.equal(await links.count(), INFERENCE_TARGETS.length);
    await noProblems(view, 'manual');

    // Follow each link (the preview maps bitbucket.org onto itself) and add the key there.
    for (let i = 0; i < INFERENCE_TARGETS.length; i++) {
      const link = links.nth(i);
      const name = (await text(link)).replace(/^Access keys of /, '');
      const [workspaceSlug, slug] = name.split('/');
      assert.equal(workspaceSlug, 'acme');
      assert.equal(await link.getAttribute('href'), `https://bitbucket.org/acme/${slug}/admin/access-keys/`);
      const [keysPage] = await Promise.all([page.context().waitForEvent('page'), link.click()]);
      await keysPage.waitForLoadState();
      const url = new URL(keysPage.url());
      assert.equal(url.pathname, `/acme/${slug}/admin/access-keys/`);
      assert.equal(url.searchParams.get('as'), 'admin');
      await keysPage.getByTestId('access-key-label').fill(label);
      await keysPage.getByTestId('access-key-text').fill(publicKey);
      await Promise.all([keysPage.waitForURL(/notice=/), keysPage.getByTestId('access-key-add').click()]);
      assert.equal(await text(keysPage.getByTestId('host-notice')), 'The access key was added.');
      assert.equal(await keysPage.getByTestId('access-key-row').filter({ hasText: label }).count(), 1);
      if (i === 0) {
        assert.deepEqual(await axeProblems(keysPage), [], 'axe found serious problems in the access keys page');
        await shoot(keysPage, 'access-keys-added');
      }
      await keysPage.close();
    }
    for (const slug of INFERENCE_TARGETS) {
      assert.equal(appKeys(slug, project.id).length, 1, `acme/${slug} now holds the key`);
    }

    await page.bringToFront();
    await app.getByTestId('verify-manual-button').click();
    assert.match(await until(app.getByTestId('job-outcome'), /Verifying the key added by hand: done/), /Valohai fetched the repository and sees its head commit/);
    await app.getByTestId('connected-view').waitFor();
    assert.equal(fingerprintIn(await text(app.getByTestId('fact-fingerprint'))), fingerprint);
    assert.match(await text(app.getByTestId('fact-fingerprint')), /^RSA /);
    assert.match(await text(app.getByTestId('sync-state')), /^In sync$/);
    const head = await headOf(e2e.preview, 'inference-api');
    assert.equal((await text(app.getByTestId('fact-bitbucket-head'))).trim(), head.slice(0, 12));
    // Which repositories hold the key; what each row says about it is the next test's concern.
    const rows = await holdingRows(view);
    assert.deepEqual([...rows.keys()].sort(), INFERENCE_TARGETS.map((s) => `acme/${s}`).sort());

    const valohai = e2e.preview.stack.valohai.state;
    assert.equal(valohai.repository(project.repository.id)?.sshKeyFingerprint, fingerprint, 'Valohai holds the key that was pasted');
    assert.ok(valohai.commits(project.id).some((c) => c.identifier === head), 'Valohai fetched the head commit');
    await assertInvariant(e2e.preview.stack, project.repository.id, 'acme', INFERENCE_TARGETS);
    await noProblems(view, 'manual-connected');
    await page.close();
  });

  test(
    '6b. a connection made by hand does not call the keys it verified "Missing": without a token they are not checked',
    async () => {
      const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: 'inference-api' }), 'connected-view');
      const project = e2e.preview.stack.valohai.state.projectByName(vh.organization, 'inference-api');
      assert.ok(project);
      try {
        for (const slug of INFERENCE_TARGETS) assert.equal(appKeys(slug, project.id).length, 1, `acme/${slug} holds the key`);
        const rows = await holdingRows(view);
        assert.equal(rows.size, INFERENCE_TARGETS.length);
        for (const [repo, stateText] of rows) assert.match(stateText, /Not checked/, `${repo} holds the key, yet the page says "${stateText}"`);
        assert.match(await view.app.getByTestId('keys-unchecked').innerText(), /Without a Bitbucket API token the app cannot list access keys/);
      } finally {
        await view.page.close();
      }
    },
  );

  test('7. a wrong Valohai token: a clear error with the fix, and nothing saved', async () => {
    const view = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
    const { app, page } = view;
    await app.getByTestId('valohai-replace').click();
    await app.getByTestId('valohai-token').fill(WRONG_VALOHAI_TOKEN);
    await app.getByTestId('valohai-token').press('Enter');
    const error = await until(app.getByTestId('valohai-error'), /Valohai/, 20_000);
    assert.match(error, /Valohai at https:\/\/app\.valohai\.com refused this token \(401\); nothing was saved\./);
    assert.match(error, /Create a token at https:\/\/app\.valohai\.com\/auth\/tokens\/ .* and paste it here\./);
    assert.match(await text(app.getByTestId('valohai-owner')), new RegExp(`A token of ${vh.admin.username}`), 'the stored token is unchanged');
    assert.match(await text(app.getByTestId('valohai-state')), /^Stored$/);
    await noProblems(view, 'workspace-wrong-token');

    const secrets = [...e2e.preview.platform.secrets.dump().values()].join('\n');
    assert.ok(!secrets.includes(WRONG_VALOHAI_TOKEN), 'the wrong token was not stored');
    assert.ok(secrets.includes(vh.admin.token), 'the working token is still stored');
    await page.reload();
    await until(app.getByTestId('valohai-owner'), new RegExp(`A token of ${vh.admin.username}`), 20_000);
    await page.close();
  });

  test('8. non-admins: read-only pages, no action enabled, and the backend refuses a direct call', async () => {
    const actions = ['preview-button', 'connect-button', 'verify-button', 'rotate-button', 'disconnect-button', 'verify-manual-button', 'manual-cancel'];

    // A writer on a repository that is ready to connect, switched to with the host's "Act as".
    const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: 'ml-models' }), 'connect-form');
    const { app, page } = view;
    await Promise.all([page.waitForURL(/as=writer/), page.getByTestId('act-as').selectOption('writer')]);
    await until(app.getByTestId('read-only'), /Only repository admins can change this connection/, 20_000);
    // What they need to ask an admin, and no more: no form, no list of the workspace's Valohai projects.
    assert.match(await text(app.getByTestId('read-only')), /It is not connected to Valohai\. Ask an admin of this repository/);
    assert.equal(await app.getByTestId('connect-form').count(), 0, 'the connect form (and its project list) is not shown to a writer');
    await assertNoEnabledActions(view, actions);
    await noProblems(view, 'writer-ready');

    // The same writer on the repository connected by hand: its project's name, not its keys or repositories.
    await Promise.all([page.waitForURL(/inference-api.*as=writer/), page.getByRole('link', { name: 'inference-api', exact: true }).click()]);
    await until(app.getByTestId('read-only'), /It is connected to the Valohai project \S+\./, 20_000);
    assert.equal(await app.getByTestId('connected-view').count(), 0, 'the connection details are not shown to a writer');
    await assertNoEnabledActions(view, actions);
    await noProblems(view, 'writer-connected');

    // The backend does not take the page's word for it: a direct call as the writer is refused.
    const before = allAcmeKeys().length;
    const frame = await view.frame();
    const reply = await frame.evaluate(
      async ({ projectId }) => {
        const res = await fetch(`/api/invoke${window.location.search}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ functionKey: 'startConnect', payload: { projectId, ref: 'main', keyType: 'ed25519', submodules: true } }),
        });
        return { status: res.status, body: (await res.json()) as { ok: boolean; value?: unknown; error?: { code: string; message: string; fix: string } } };
      },
      { projectId: vh.project.id },
    );
    assert.equal(reply.status, 200);
    assert.equal(reply.body.ok, false, 'the call was refused');
    assert.equal(reply.body.value, undefined, 'no job was started');
    assert.equal(reply.body.error?.code, 'not-admin');
    assert.match(reply.body.error?.message ?? '', /Only repository admins can do this/);
    await e2e.preview.platform.idle();
    assert.equal(allAcmeKeys().length, before, 'no access key was added');

    // Someone from another workspace.
    await Promise.all([page.waitForURL(/as=outsider/), page.getByTestId('act-as').selectOption('outsider')]);
    await until(app.getByTestId('load-error'), /no access/, 20_000);
    assert.equal(await app.getByTestId('load-error').getByRole('button', { name: 'Try again' }).count(), 0, 'trying again cannot give access');
    await assertNoEnabledActions(view, actions);
    assert.equal(await app.getByTestId('connect-form').count() + (await app.getByTestId('connected-view').count()), 0, 'nothing of the connection is shown');
    await noProblems(view, 'outsider');

    // The writer on the workspace page: refused with a clear message, the forms disabled.
    const ws = await openApp(e2e.browser, e2e.preview.pageUrl({ as: 'writer' }), 'read-only');
    assert.match(await text(ws.app.getByTestId('read-only')), /Only workspace admins can change these settings/);
    // Who can act, and what is set up: no form that cannot be used.
    for (const id of ['valohai-save', 'bitbucket-save', 'valohai-token', 'bitbucket-token', 'trust-save', 'valohai-clear', 'bitbucket-clear']) {
      assert.equal(await ws.app.getByTestId(id).count(), 0, `${id} is shown to a writer`);
    }
    assert.match(await text(ws.app.getByTestId('read-only')), /Workspace admins store the tokens/);
    await showTab(ws, 'policies');
    assert.match(await text(ws.app.getByTestId('trust-summary')), /workspace admins may connect/);
    await noProblems(ws, 'writer-workspace');
    await ws.page.close();
    await page.close();
  });

  test('no answer the pages received holds a private key or a stored token', async () => {
    await e2e.settleAnswers();
    const { answers, keys } = e2e;
    assert.ok(answers.length > 20, 'the pages talked to the backend');
    assert.deepEqual(answers.filter((a) => a.body === '<unread>').map((a) => a.functionKey), [], 'every answer was read');
    assert.deepEqual(keys.types, ['ed25519', 'ed25519', 'rsa'], 'connect, rotate and the manual connect each made one key');
    assert.equal(keys.privateKeys.length, 3);
    // The scan can see what it looks for: the manual view's answer carried the public key.
    assert.ok(answers.some((a) => a.body.includes('ssh-rsa AAAA')), 'the public key reached the page');
    const secrets = [
      { name: 'the Valohai token', value: vh.admin.token },
      { name: 'the wrong Valohai token', value: WRONG_VALOHAI_TOKEN },
      { name: 'the Bitbucket API token', value: bb.admin.token },
      ...keys.privateKeys.flatMap((k, i) => privateKeyLines(k).map((line) => ({ name: `private key ${i + 1}`, value: line }))),
      ...keys.privateKeys.map((k, i) => ({ name: `private key ${i + 1}`, value: k, key: true })),
    ];
    const findings = secretFindings(
      answers.map((a, i) => ({ where: `answer ${i + 1} (${a.functionKey})`, text: a.body })),
      secrets,
    );
    assert.deepEqual(findings, []);
  });
});
