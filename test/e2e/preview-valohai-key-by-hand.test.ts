/**
 * A key made in Valohai, with a Valohai that does not say it takes the repository URL and fetch
 * reference through its API: in a real browser over the local preview, the connect puts the key on
 * every repository and the outcome gives the two values to enter on Valohai's page, with copy buttons;
 * the admin enters them there, chooses Verify now, and the connection is verified.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { normaliseKey } from '../../src/connect/index';
import { headOf, openApp, saveAdminTokens, startE2e, text, until, type E2e } from './preview-support';

const TARGETS = ['ml-models', 'datasets', 'training-lib', 'feature-store'];
let e2e: E2e;

before(async () => {
  e2e = await startE2e({ valohaiApi: { readOnly: ['url', 'ref', 'key'] } });
});
after(async () => {
  await e2e?.close();
});

test('the values to enter in Valohai after connecting, then Verify now verifies the connection', async () => {
  const workspace = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
  await saveAdminTokens(workspace.app, { valohai: vh.admin.token, email: bb.admin.email, bitbucket: bb.admin.token });
  await workspace.page.close();

  const valohaiPage = await e2e.browser.context.newPage();
  await valohaiPage.goto(e2e.preview.stack.valohai.settingsPageUrl(vh.project.owner, vh.project.name));
  await valohaiPage.getByTestId('valohai-generate-key').click();
  const key = (await valohaiPage.getByTestId('valohai-public-key').inputValue()).trim();

  const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: 'ml-models' }), 'connect-form');
  const { app } = view;
  await app.locator('#project-select').fill(vh.project.name);
  await app.locator('#project-select').press('Enter');
  await app.getByTestId('key-from-valohai--radio-input').check();
  await app.getByTestId('public-key').fill(key);
  await app.getByTestId('connect-button').click();

  const outcome = app.getByTestId('job-outcome');
  assert.match(await until(outcome, /now enter the repository in Valohai|Connecting to Valohai: (done|failed)/), /The key is on Bitbucket: now enter the repository in Valohai/);
  assert.match(await text(outcome), /enter these two values and save; then choose Verify now/);
  assert.doesNotMatch(await text(outcome), /connect again/, 'on the page the next step is Verify now');
  const url = await app.getByTestId('outcome-valohai-url').inputValue();
  const ref = await app.getByTestId('outcome-valohai-ref').inputValue();
  assert.deepEqual([url, ref], ['git@bitbucket.org:acme/ml-models.git', 'main']);
  for (const slug of TARGETS) assert.deepEqual(e2e.preview.stack.bitbucket.state.accessKeys('acme', slug).map((k) => k.key), [normaliseKey(key)], slug);

  // The admin enters them on Valohai's page, as the outcome says.
  await valohaiPage.reload();
  await valohaiPage.getByTestId('valohai-url').fill(url);
  await valohaiPage.getByTestId('valohai-ref').fill(ref);
  await valohaiPage.getByTestId('valohai-save').click();
  await valohaiPage.getByTestId('valohai-notice').waitFor();
  await valohaiPage.close();

  await app.getByTestId('verify-button').click();
  assert.match(await until(outcome, /Verifying[^\n]*: (done|failed|not verified)/), /: done/);
  const head = await headOf(e2e.preview, 'ml-models');
  assert.ok(e2e.preview.stack.valohai.state.commits(vh.project.id).some((c) => c.identifier === head), 'Valohai fetched the head');
  assert.deepEqual(view.errors, []);
  await view.page.close();
});
