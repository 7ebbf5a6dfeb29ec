/**
 * "Use a key made in Valohai" in a real browser over the local preview: the key pair is generated on
 * the emulated Valohai's repository settings page, its public half pasted into the repository page,
 * and a repository with submodules connected; Valohai fetches with its own key, and again after a push.
 * Then a rotation with a new key made there, and a disconnect. No request to Valohai ever carries a private key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from '../static/harness';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh, REDACTED } from '../../dev/valohai/index';
import { normaliseKey } from '../../src/connect/index';
import { headOf, openApp, saveAdminTokens, startE2e, text, until, type E2e } from './preview-support';

const TARGETS = ['ml-models', 'datasets', 'training-lib', 'feature-store'];
let e2e: E2e;

before(async () => {
  e2e = await startE2e();
});
after(async () => {
  await e2e?.close();
});

const keysOn = (slug: string) => e2e.preview.stack.bitbucket.state.accessKeys('acme', slug).map((k) => k.key);

/** Valohai's page, as an admin uses it: Generate SSH Key, then the public key it shows. */
async function generateInValohai(browser: Browser): Promise<string> {
  const page = await browser.context.newPage();
  await page.goto(e2e.preview.stack.valohai.settingsPageUrl(vh.project.owner, vh.project.name));
  await page.getByTestId('valohai-generate-key').click();
  const key = (await page.getByTestId('valohai-public-key').inputValue()).trim();
  await page.close();
  return key;
}

test('connect with a key made in Valohai, rotate with a new one, disconnect', async () => {
  const workspace = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
  await saveAdminTokens(workspace.app, { valohai: vh.admin.token, email: bb.admin.email, bitbucket: bb.admin.token });
  await workspace.page.close();

  const first = await generateInValohai(e2e.browser);
  const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: 'ml-models' }), 'connect-form');
  const { app } = view;
  await app.locator('#project-select').fill(vh.project.name);
  await app.locator('#project-select').press('Enter');
  await app.getByTestId('key-from-valohai--radio-input').check();
  assert.equal(await app.getByTestId('key-rsa--radio-input').count(), 0, 'no key type for a key Valohai makes');
  assert.equal(await app.getByTestId('valohai-url').inputValue(), 'git@bitbucket.org:acme/ml-models.git');
  assert.equal(await app.getByTestId('valohai-ref').inputValue(), 'main');

  // A private key pasted is refused on the page, and never sent.
  await app.getByTestId('public-key').fill('-----BEGIN OPENSSH PRIVATE KEY-----');
  await app.getByTestId('connect-button').click();
  assert.match(await text(app.getByTestId('public-key-error')), /private key, which must never leave Valohai/);

  await app.getByTestId('public-key').fill(first);
  await app.getByTestId('connect-button').click();
  assert.match(await until(app.getByTestId('job-outcome'), /Connecting to Valohai: (done|failed|not verified)/), /Connecting to Valohai: done/);
  await app.getByTestId('connected-view').waitFor();
  assert.match(await text(app.getByTestId('key-source')), /made in Valohai/);
  for (const slug of TARGETS) assert.deepEqual(keysOn(slug), [normaliseKey(first)], slug);
  const head = await headOf(e2e.preview, 'ml-models');
  assert.ok(e2e.preview.stack.valohai.state.commits(vh.project.id).some((c) => c.identifier === head), 'Valohai fetched the head');

  // The workspace's list says which kind of key the connection has.
  const listed = await openApp(e2e.browser, e2e.preview.pageUrl(), 'repositories-section', 'repositories');
  const row = listed.app.getByTestId('repositories-section').getByRole('row').filter({ hasText: 'acme/ml-models' });
  assert.match(await text(row), /made in Valohai/);
  assert.equal(await listed.app.getByTestId('repositories-section').getByText('made in Valohai').count(), 1, 'only that connection');
  await listed.page.close();

  // A push, from the host page's bar: Valohai fetches the new head with its own key.
  await view.page.getByTestId('push-commit').click();
  assert.match(await until(view.page.getByTestId('push-status'), /^(Pushed|.* Bitbucket takes a push only)/), /^Pushed/);
  const pushed = await headOf(e2e.preview, 'ml-models');
  assert.notEqual(pushed, head);
  assert.ok(e2e.preview.stack.valohai.state.commits(vh.project.id).some((c) => c.identifier === pushed), 'the push made Valohai fetch the new head');

  // Rotation: the new key is asked for, with the warning, and the old one leaves every repository.
  const second = await generateInValohai(e2e.browser);
  await app.getByTestId('rotate-button').click();
  await app.getByTestId('rotate-valohai-key').waitFor();
  assert.match(await text(app.getByTestId('rotate-valohai-key')), /fetches fail until the new key is on Bitbucket/);
  assert.match(await text(app.getByTestId('rotate-valohai-key')), /Generate a new key in Valohai, then paste its public half here/);
  await app.getByTestId('rotate-public-key').fill(second);
  await app.getByTestId('rotate-button').click();
  assert.match(await until(app.getByTestId('job-outcome'), /Rotating the access key: (done|failed|not verified)/), /Rotating the access key: done/);
  for (const slug of TARGETS) assert.deepEqual(keysOn(slug), [normaliseKey(second)], slug);

  await app.getByTestId('disconnect-button').click();
  await app.getByTestId('disconnect-confirm-confirm').click();
  await until(app.getByTestId('job-outcome'), /Disconnecting from Valohai: done/);
  for (const slug of TARGETS) assert.deepEqual(keysOn(slug), [], slug);

  for (const r of e2e.preview.stack.valohai.requests) {
    assert.ok(!r.body.includes('ssh_private_key') && !r.body.includes(REDACTED), `${r.method} ${r.path} carried a key`);
  }
  assert.deepEqual(view.errors, []);
  await view.page.close();
});
