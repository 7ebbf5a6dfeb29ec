// The two settings pages in a real browser, against the scenario table in fixtures.ts: what each
// state shows, what the forms send, that keyboard users reach the main actions in a sensible order,
// and that axe finds nothing serious. Screenshots of every state land in test-artifacts/screenshots/.
// Connections that look after themselves and the fleet are in settings-health-fleet.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessKeysUrl } from '../../src/forge/contract';
import { connection, orphanKeyWarnings, rotatedConnection, rotateLeftover } from './fixtures';
import { checkState, focused, open, showTab, tabOrder, tokenSaves, usePages } from './page-suite';

const pages = usePages();

describe('workspace settings page', () => {
  test('shows whose tokens are stored, missing scopes and repositories, never a secret', async () => {
    const page = await open('workspace', { ready: 'valohai-section' });
    assert.match(await page.getByTestId('valohai-owner').innerText(), /ada on https:\/\/app\.valohai\.com/);
    assert.match(await page.getByTestId('bitbucket-owner').innerText(), /Ada Lovelace \(ada@acme\.example\)/);
    assert.match(await page.getByTestId('missing-scopes').innerText(), /delete:ssh-key:bitbucket/);
    const scopes = await page.getByTestId('required-scopes').innerText();
    for (const scope of ['read:repository:bitbucket', 'admin:repository:bitbucket', 'write:ssh-key:bitbucket', 'delete:ssh-key:bitbucket']) {
      assert.ok(scopes.includes(scope), `the page lists the scope ${scope}`);
    }
    assert.equal(await page.getByTestId('atlassian-token-link').getAttribute('href'), 'https://id.atlassian.com/manage-profile/security/api-tokens');
    // Both tokens are stored: their forms open with Replace.
    assert.equal(await page.getByTestId('valohai-token').count(), 0, 'no form under a stored token until Replace');
    await page.getByTestId('valohai-replace').click();
    await page.getByTestId('bitbucket-replace').click();
    assert.equal(await page.getByTestId('valohai-token-link').getAttribute('href'), 'https://app.valohai.com/auth/tokens/');
    for (const id of ['valohai-token', 'bitbucket-token']) {
      const field = page.getByTestId(id);
      assert.equal(await field.getAttribute('type'), 'password');
      assert.equal(await field.inputValue(), '', `${id} is never prefilled`);
    }
    await checkState(page, 'workspace-setup');
    // The repositories have a tab of their own.
    await showTab(page, 'repositories');
    assert.equal(await page.getByTestId('valohai-section').isVisible(), false, 'one tab at a time');
    const table = await page.getByTestId('repositories--table').innerText();
    assert.match(table, /acme\/trainer[\s\S]*Connected/);
    assert.match(table, /acme\/datasets[\s\S]*Not connected/);
    await checkState(page, 'workspace-light');
    await page.close();
  });

  test('stores a Valohai token and a Bitbucket token, then clears the token fields', async () => {
    const page = await open('workspace', { ready: 'valohai-section' });
    // A stored token reads Stored, Replace, Remove: its form opens with Replace.
    assert.equal(await page.getByTestId('valohai-token').count(), 0, 'the form is closed under a stored token');
    await page.getByTestId('valohai-replace').click();
    await page.getByTestId('valohai-token').fill('vh-secret-123');
    await page.getByTestId('valohai-save').click();
    await page.getByTestId('valohai-saved').waitFor();
    assert.match(await page.getByTestId('valohai-saved').innerText(), /grace/);
    assert.equal(await page.getByTestId('valohai-token').count(), 0, 'saved, the form closes and the secret goes with it');
    assert.equal(await focused(page), 'valohai-notice-focus', 'the focus stays in the section, on what the save said, not on the frame');
    assert.match(await page.getByTestId('valohai-owner').innerText(), /grace/);

    await page.getByTestId('bitbucket-replace').click();
    await page.getByTestId('bitbucket-email').fill('grace@acme.example');
    await page.getByTestId('bitbucket-token').fill('ATATT-secret');
    await page.getByTestId('bitbucket-token').press('Enter');
    await page.getByTestId('bitbucket-saved').waitFor();
    assert.equal(await page.getByTestId('missing-scopes').count(), 0, 'the new token has every scope');

    const sent = pages.server.invocations.filter((i) => i.functionKey.startsWith('save'));
    assert.deepEqual(sent.slice(-2).map((i) => [i.functionKey, i.payload]), [
      ['saveValohaiToken', { host: 'https://app.valohai.com', token: 'vh-secret-123' }],
      ['saveBitbucketToken', { email: 'grace@acme.example', token: 'ATATT-secret' }],
    ]);
    await page.close();
  });

  test('a token that does less than the stored one is asked about, and the stored one stays unless Replace anyway', async () => {
    const page = await open('workspace', { ready: 'valohai-section' });
    await page.getByTestId('bitbucket-replace').click();
    await page.getByTestId('bitbucket-email').fill('grace@acme.example');
    await page.getByTestId('bitbucket-token').fill('ATATT-fewer-scopes');
    await page.getByTestId('bitbucket-save').click();
    const dialog = page.getByTestId('bitbucket-replace-worse');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /write:ssh-key:bitbucket[\s\S]*Connect and Rotate fail/);
    assert.equal(await page.getByTestId('bitbucket-saved').count(), 0, 'no green "Saved" while the stored token stays');
    await checkState(page, 'workspace-worse-token');
    await page.getByTestId('bitbucket-replace-worse-cancel').click();
    await page.getByTestId('bitbucket-kept').waitFor();
    assert.match(await page.getByTestId('bitbucket-owner').innerText(), /Ada Lovelace/, 'the stored token is still the one shown');

    await page.getByTestId('bitbucket-save').click();
    await page.getByTestId('bitbucket-replace-worse-confirm').click();
    await page.getByTestId('bitbucket-saved').waitFor();
    const sent = pages.server.invocations.filter((i) => i.functionKey === 'saveBitbucketToken').slice(-3);
    assert.deepEqual(
      sent.map((i) => (i.payload as { confirmWorse?: boolean }).confirmWorse ?? false),
      [false, false, true],
      'only the confirmed save says confirmWorse',
    );
    await page.close();
  });

  test('a token past its expiry date is labelled Expired, not Stored', async () => {
    const page = await open('workspace-token-expired', { ready: 'valohai-section' });
    for (const kind of ['valohai', 'bitbucket']) {
      assert.match(await page.getByTestId(`${kind}-state`).innerText(), /^expired$/i, kind);
      assert.match(await page.getByTestId(`${kind}-lifetime`).innerText(), /expired on/);
    }
    await page.close();
  });

  test('a refused token shows what happened and the fix; empty fields are caught before sending', async () => {
    const page = await open('workspace', { ready: 'valohai-section' });
    const before = tokenSaves();
    await page.getByTestId('valohai-replace').click();
    await page.getByTestId('valohai-save').click();
    await page.getByTestId('valohai-token-error').waitFor();
    assert.equal(tokenSaves(), before, 'nothing sent without a token');

    await page.getByTestId('valohai-token').fill('wrong-token');
    await page.getByTestId('valohai-save').click();
    const error = page.getByTestId('valohai-error');
    await error.waitFor();
    assert.match(await error.innerText(), /Valohai refused the token \(401\)[\s\S]*Create a new token/);
    await checkState(page, 'workspace-error');
    await page.close();
  });

  test('what the server refuses in a field shows on that field; a new attempt clears the last one\'s error', async () => {
    const page = await open('workspace', { ready: 'valohai-section' });
    // The shared rules catch these before anything is sent.
    const before = tokenSaves();
    await page.getByTestId('valohai-replace').click();
    await page.getByTestId('bitbucket-replace').click();
    await page.getByTestId('valohai-token').fill('abc def');
    await page.getByTestId('valohai-save').click();
    assert.equal(await page.getByTestId('valohai-token-error').innerText(), 'The token must not contain spaces.');
    await page.getByTestId('bitbucket-email').fill('ada@acme.example');
    await page.getByTestId('bitbucket-token').fill('-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXkt');
    await page.getByTestId('bitbucket-save').click();
    assert.match(await page.getByTestId('bitbucket-token-error').innerText(), /is an SSH key, not an API token/);
    assert.equal(tokenSaves(), before, 'nothing was sent');

    // The server's word on a field goes on that field, not into a box about redeploying the app.
    await page.getByTestId('valohai-token').fill('server-refuses-field');
    await page.getByTestId('valohai-save').click();
    await page.getByTestId('valohai-token-error').filter({ hasText: 'The token must be at most 1000 characters.' }).waitFor();
    assert.equal(await page.getByTestId('valohai-error').count(), 0);

    // A refused token, then a new attempt with an empty field: the old error goes.
    await page.getByTestId('valohai-token').fill('wrong-token');
    await page.getByTestId('valohai-save').click();
    await page.getByTestId('valohai-error').waitFor();
    await page.getByTestId('valohai-token').fill('');
    await page.getByTestId('valohai-save').click();
    await page.getByTestId('valohai-token-error').waitFor();
    assert.equal(await page.getByTestId('valohai-error').count(), 0, 'the last attempt\'s error is gone');
    await checkState(page, 'workspace-field-errors');
    await page.close();
  });

  test('the repository list says when it was read; one that could not be read again stays, with why, until Refresh list reads it', async () => {
    const page = await open('workspace-list-kept', { ready: 'repositories-section', tab: 'repositories' });
    assert.match(await page.getByTestId('repositories-listed-at').innerText(), /Listed from Bitbucket 14 minutes ago; read again after 10 minutes\./);
    const problem = await page.getByTestId('repositories-problem').innerText();
    assert.match(problem, /could not be read again/);
    assert.match(problem, /rate limit was reached while listing/);
    assert.match(problem, /Shown as listed .*: repositories made, renamed or deleted since may be missing or out of date\. Wait a few minutes, then try again\./);
    assert.match(await page.getByTestId('repositories--table').innerText(), /acme\/trainer/, 'the kept list is shown');
    await checkState(page, 'workspace-list-kept');
    const sent = pages.server.invocations.length;
    await page.getByTestId('repositories-refresh').click();
    await page.getByTestId('repositories-problem').waitFor({ state: 'detached' });
    assert.deepEqual(
      pages.server.invocations.slice(sent).filter((i) => i.functionKey === 'getWorkspaceSettings').map((i) => i.payload),
      [{ refreshRepositories: true }],
    );
    assert.match(await page.getByTestId('repositories-listed-at').innerText(), /Listed from Bitbucket just now/);
    await page.close();
  });

  test('keyboard reaches each field and save button in reading order', async () => {
    const page = await open('workspace', { ready: 'valohai-section' });
    const stored = ['valohai-replace', 'valohai-clear', 'bitbucket-replace', 'bitbucket-clear'];
    assert.deepEqual(await tabOrder(page, stored), stored);
    await page.getByTestId('valohai-replace').click();
    await page.getByTestId('bitbucket-replace').click();
    const wanted = ['valohai-host', 'valohai-token', 'valohai-save', 'valohai-replace-cancel', 'bitbucket-email', 'bitbucket-token', 'bitbucket-save'];
    assert.deepEqual(await tabOrder(page, wanted), wanted);
    await page.getByTestId('valohai-replace-cancel').click();
    assert.equal(await page.getByTestId('valohai-token').count(), 0, 'Cancel closes the form');
    await page.close();
  });

  test('looks right in the dark theme', async () => {
    const page = await open('workspace', { theme: 'dark', ready: 'valohai-section' });
    assert.equal(await page.evaluate(() => document.documentElement.getAttribute('data-color-mode')), 'dark');
    await checkState(page, 'workspace-dark');
    await page.close();
  });
});

describe('repository settings page', () => {
  test('not set up: points to the workspace settings page', async () => {
    const page = await open('repo-not-set-up', { ready: 'not-set-up' });
    assert.equal(await page.getByTestId('workspace-settings-link').getAttribute('href'), 'https://bitbucket.org/acme/workspace/settings/forge/valohai');
    assert.equal(await page.getByTestId('connect-button').count(), 0);
    await checkState(page, 'repo-not-set-up');
    await page.close();
  });

  test('ready: defaults, a preview of targets and warnings, then connect runs live to connected', async () => {
    const page = await open('repo-ready', { ready: 'connect-form' });
    assert.equal(await page.getByTestId('fetch-ref').inputValue(), 'main');
    assert.ok(await page.getByTestId('key-rsa--radio-input').isChecked(), 'RSA is the default key type');
    assert.match(await page.getByTestId('connect-form').innerText(), /Ed25519[^\n]*not confirmed/);
    assert.ok(await page.getByTestId('submodules-on--radio-input').isChecked());

    await page.getByTestId('preview-button').click();
    await page.getByTestId('preview').waitFor();
    const preview = await page.getByTestId('preview').innerText();
    assert.match(preview, /acme\/trainer/);
    assert.match(preview, /acme\/datasets/);
    assert.match(await page.getByTestId('warning-https-submodule').innerText(), /git@github\.com:acme\/vendor\.git/);
    await checkState(page, 'repo-ready-preview');

    // The one project named after the repository is chosen already.
    assert.match(await page.getByTestId('project-select-select--container').innerText(), /^trainer/);
    await page.getByTestId('connect-button').click();
    await page.getByTestId('running-view').waitFor();
    await page.getByTestId('job-outcome').waitFor({ timeout: 15_000 });
    await page.getByTestId('connected-view').waitFor();
    assert.match(await page.getByTestId('job-outcome').innerText(), /done/);

    const start = pages.server.invocations.filter((i) => i.functionKey === 'startConnect').at(-1);
    assert.deepEqual(start?.payload, { projectId: '5b7c0c4e-0d6f-4d35-9b1f-6e0c2f6c1a10', ref: 'main', keyType: 'rsa', submodules: true });
    await page.close();
  });

  test('ready without a Bitbucket token: says the key is added by hand and starts the manual path', async () => {
    const page = await open('repo-manual-ready', { ready: 'connect-form' });
    await page.getByTestId('manual-notice').waitFor();
    await page.getByTestId('mode-new--radio-input').check();
    // A project named trainer exists: the proposed name does not collide with it.
    assert.equal(await page.getByTestId('project-name').inputValue(), 'trainer-2');
    await page.getByTestId('key-ed25519--radio-input').check();
    await page.getByTestId('submodules-off--radio-input').check();
    await page.getByTestId('connect-button').click();
    await page.getByTestId('running-view').waitFor();
    const start = pages.server.invocations.filter((i) => i.functionKey === 'startManualConnect').at(-1);
    assert.deepEqual(start?.payload, { newProject: { name: 'trainer-2', owner: 'acme' }, ref: 'main', keyType: 'ed25519', submodules: false });
    await page.close();
  });

  test('keyboard reaches the form fields, Preview and Connect in order', async () => {
    const page = await open('repo-ready', { ready: 'connect-form' });
    const wanted = ['fetch-ref', 'preview-button', 'connect-button'];
    assert.deepEqual(await tabOrder(page, wanted), wanted);
    await page.close();
  });

  test('running: each step appears as the job advances, in a live region', async () => {
    const page = await open('repo-running', { ready: 'running-view' });
    await page.getByTestId('step-add-key:acme/trainer').waitFor({ timeout: 10_000 });
    const steps = page.getByTestId('job-steps');
    assert.equal(await steps.getAttribute('aria-live'), 'polite');
    assert.match(await steps.innerText(), /Read acme\/trainer[\s\S]*Generated an RSA 4096 key[\s\S]*Added the access key/);
    assert.match(await page.getByTestId('job-status').innerText(), /Running/i);
    await checkState(page, 'repo-running');
    await page.close();
  });

  test('connected: key, age warning, sync, repositories holding the key, and the actions', async () => {
    const page = await open('repo-connected', { ready: 'connected-view' });
    assert.match(await page.getByTestId('fact-fingerprint').innerText(), /RSA SHA256:Yb0mJ9m2/);
    // The age is a fact; the advice to rotate is the one message above, and the header's verdict.
    assert.equal((await page.getByTestId('fact-key-age').innerText()).trim(), '200 days');
    assert.match(await page.getByTestId('key-age-message').innerText(), /over 180 days[\s\S]*Rotate it/);
    assert.equal(await page.getByTestId('connection-verdict').getAttribute('data-verdict'), 'attention');
    assert.match(await page.getByTestId('sync-state').innerText(), /In sync/i);
    assert.match(await page.getByTestId('fact-push-fetch').innerText(), /2 new commits/);
    const keys = await page.getByTestId('access-keys--table').innerText();
    assert.match(keys, /acme\/trainer[\s\S]*Present/);
    assert.match(keys, /acme\/datasets[\s\S]*never/);
    await checkState(page, 'repo-connected');

    const wanted = ['verify-button', 'rotate-button', 'disconnect-button'];
    assert.deepEqual(await tabOrder(page, wanted), wanted);

    // Disconnect asks first in a modal dialog, with the focus on Cancel.
    await page.getByTestId('disconnect-button').click();
    await page.getByRole('dialog').waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'disconnect-confirm-cancel');
    assert.match(await page.getByRole('dialog').innerText(), /removes the access key from 2 repositories/);
    await page.getByTestId('disconnect-confirm-cancel').click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'disconnect-button');
    assert.equal(pages.server.invocations.filter((i) => i.functionKey === 'startDisconnect').length, 0, 'nothing disconnected on cancel');

    await page.getByTestId('verify-button').click();
    await page.getByTestId('job-outcome').waitFor({ timeout: 10_000 });
    assert.match(await page.getByTestId('job-outcome').innerText(), /Verifying the connection: done/);
    await page.close();
  });

  test('connected with a year-old key and a failed push fetch: alert and the errors', async () => {
    const page = await open('repo-connected-old-key', { ready: 'connected-view' });
    assert.match(await page.getByTestId('key-age-message').innerText(), /over 365 days/);
    assert.equal((await page.getByTestId('fact-key-age').innerText()).trim(), '400 days');
    assert.equal(await page.getByTestId('connection-verdict-label').innerText(), 'Needs attention');
    assert.match(await page.getByTestId('sync-state').innerText(), /Not in sync/i);
    assert.match(await page.getByTestId('push-fetch-errors').innerText(), /Permission denied \(publickey\)/);
    assert.match(await page.getByTestId('warning-not-fetched').innerText(), /head commit/);
    await checkState(page, 'repo-connected-old-key');
    await page.close();
  });

  test('connected, dark theme', async () => {
    const page = await open('repo-connected', { theme: 'dark', ready: 'connected-view' });
    await checkState(page, 'repo-connected-dark');
    await page.close();
  });

  test('manual: read-only public key with Copy, a link per repository, then Verify', async () => {
    const page = await open('repo-manual', { ready: 'manual-view' });
    const key = page.getByTestId('public-key');
    assert.match(await key.inputValue(), /^ssh-rsa AAAA/);
    assert.equal(await key.getAttribute('readonly'), '');
    assert.equal(await page.getByTestId('access-keys-link-acme/datasets').getAttribute('href'), 'https://bitbucket.org/acme/datasets/admin/access-keys/');
    await page.getByTestId('public-key-copy').click();
    await page.getByTestId('public-key-note').filter({ hasText: /copied|Ctrl\+C/ }).waitFor();
    await checkState(page, 'repo-manual');

    const wanted = ['public-key', 'public-key-copy', 'verify-manual-button'];
    assert.deepEqual(await tabOrder(page, wanted), wanted);

    // Discarding the key asks first, in a modal dialog that Escape closes without discarding anything.
    await page.getByTestId('manual-cancel').click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /Discard this key\?/);
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'manual-cancel-confirm-cancel');
    await checkState(page, 'repo-manual-discard-confirm');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'manual-cancel');
    assert.equal(pages.server.invocations.filter((i) => i.functionKey === 'startDisconnect').length, 0, 'Escape discarded nothing');

    await page.getByTestId('verify-manual-button').click();
    await page.getByTestId('running-view').waitFor();
    // The button went away with the view: focus is on the steps, not the page body.
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'running-view');
    assert.ok(pages.server.invocations.some((i) => i.functionKey === 'verifyManual'));
    await page.close();
  });

  test('disconnect without an API token: done, with a named link to each repository that may still hold the key', async () => {
    const page = await open('repo-disconnect-manual', { ready: 'connected-view' });
    await page.getByTestId('disconnect-button').click();
    await page.getByTestId('disconnect-confirm-confirm').click();
    const outcome = page.getByTestId('job-outcome');
    await outcome.waitFor({ timeout: 15_000 });
    await page.getByTestId('connect-form').waitFor();
    assert.equal(
      await outcome.getByRole('heading', { level: 2 }).innerText(),
      'Disconnecting from Valohai: done, with 2 things to do by hand',
    );
    const list = outcome.getByRole('list', { name: 'Things to check' });
    assert.equal(await list.getByRole('listitem').count(), 2);
    for (const [i, warning] of orphanKeyWarnings.entries()) {
      const [workspace = '', slug = ''] = warning.repository.split('/');
      const item = list.getByRole('listitem').nth(i);
      assert.match(await item.innerText(), new RegExp(`remove it at https://bitbucket\\.org/acme/${slug}/admin/access-keys/`));
      const link = item.getByRole('link', { name: `Open access keys of acme/${slug}`, exact: true });
      assert.equal(await link.getAttribute('href'), accessKeysUrl(workspace, slug));
    }
    await checkState(page, 'repo-disconnect-orphan-keys');
    await page.close();
  });

  test('connect done with a submodule the key cannot serve: the warning and the fix stay on the page', async () => {
    const page = await open('repo-connect-submodule-warning', { ready: 'running-view' });
    const outcome = page.getByTestId('job-outcome');
    await outcome.waitFor({ timeout: 15_000 });
    await page.getByTestId('connected-view').waitFor();
    const text = await outcome.innerText();
    assert.match(text, /Connecting to Valohai: done, with 1 thing to check/);
    assert.match(text, /Valohai fetched the repository and sees its head commit/);
    assert.match(await page.getByTestId('outcome-warning-https-submodule').innerText(), /Change \.gitmodules line 5 to: url = git@github\.com:acme\/vendor\.git/);
    // The fix is in .gitmodules, not on an access keys page: no link that would send the admin elsewhere.
    assert.equal(await outcome.getByRole('link').count(), 0);
    await checkState(page, 'repo-connect-submodule-warning');
    await page.close();
  });

  test('a finished job is reported only with the page read after it: no old key beside "done"', async () => {
    const page = await open('repo-rotate-slow-reload', { ready: 'connected-view' });
    const fingerprint = page.getByTestId('fact-fingerprint');
    assert.ok((await fingerprint.innerText()).includes(connection.fingerprint), 'the old key is shown before rotating');
    await page.getByTestId('rotate-button').click();
    await page.getByTestId('job-outcome').waitFor({ timeout: 15_000 });
    assert.match(await page.getByTestId('job-outcome').innerText(), /done/);
    assert.ok((await fingerprint.innerText()).includes(rotatedConnection.fingerprint), 'the outcome came with the old key on the page');
    await page.close();
  });

  test('a failed rotate says what failed, how to finish, and what is left in place', async () => {
    const page = await open('repo-rotate-failed', { ready: 'connected-view' });
    await page.getByTestId('rotate-button').click();
    const outcome = page.getByTestId('job-outcome');
    await outcome.waitFor({ timeout: 15_000 });
    await page.getByTestId('connected-view').waitFor();
    assert.equal(await outcome.getByRole('heading', { level: 2 }).innerText(), 'Rotating the access key: failed');
    const text = await outcome.innerText();
    assert.match(text, /lacks write:ssh-key:bitbucket\.\s+Start it again to clean up\./);
    assert.match(text, /Still in place\. Starting the same action again cleans these up; otherwise remove them by hand:/);
    const leftovers = outcome.getByRole('list', { name: 'Left in place' });
    assert.deepEqual(await leftovers.getByRole('listitem').allInnerTexts(), [rotateLeftover]);
    assert.equal(await outcome.getByRole('list', { name: 'Things to check' }).count(), 0, 'no warnings were reported');
    await checkState(page, 'repo-rotate-failed');
    await page.close();
  });

  test('a failing backend shows what happened and the fix', async () => {
    const page = await open('repo-error', { ready: 'load-error' });
    const error = page.getByTestId('load-error');
    assert.match(await error.innerText(), /Valohai did not answer[\s\S]*status\.valohai\.com/);
    // A short title; the diagnosis is the body, and the address in the fix is a link.
    assert.equal(await error.getByRole('heading').innerText(), 'Valohai could not do it');
    assert.equal(await error.getByRole('link', { name: 'https://status.valohai.com' }).count(), 1);
    // A 503 passes: trying again is offered.
    assert.equal(await error.getByRole('button', { name: 'Try again' }).count(), 1);
    await checkState(page, 'repo-error');
    await page.close();
  });
});


test('every payload the pages sent was accepted by the contract validators', () => {
  assert.ok(pages.server.invocations.length > 10, 'the pages called the resolvers');
  assert.deepEqual(pages.server.refused, []);
});

describe("the token's hour spent", () => {
  test('the workspace page says so once, with the time, and the token form still saves', async () => {
    const page = await open('workspace-hour-spent', { ready: 'valohai-section' });
    await page.getByTestId('bitbucket-replace').click();
    assert.match(await page.getByTestId('token-hour').innerText(), /sent 1000 of the about 1000 requests Bitbucket allows Ada Lovelace/);
    assert.match(await page.getByTestId('token-hour-spent').innerText(), /start again at about 14:05 UTC/);
    await page.getByTestId('bitbucket-email').fill('grace@acme.example');
    await page.getByTestId('bitbucket-token').fill('ATATT-other');
    await page.getByTestId('bitbucket-token').press('Enter');
    await page.getByTestId('bitbucket-saved').waitFor();
    await checkState(page, 'workspace-hour-spent');
    await page.close();
  });

  test('the repository page shows the connection as stored, repositories by name, and one notice', async () => {
    const page = await open('repo-hour-spent', { ready: 'connected-view' });
    assert.equal(await page.getByTestId('token-notice').count(), 1);
    assert.match(await page.getByTestId('token-notice').innerText(), /has used its hour[\s\S]*about 14:05 UTC/);
    const keys = await page.getByTestId('access-keys--table').innerText();
    assert.match(keys, /acme\/trainer/);
    assert.doesNotMatch(keys, /\{[0-9a-f-]{36}\}/, 'repositories by name, never by uuid');
    assert.match(await page.getByTestId('keys-seen-at').innerText(), /As Bitbucket listed them on/);
    await checkState(page, 'repo-hour-spent');
    await page.close();
  });
});
