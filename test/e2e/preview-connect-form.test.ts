/**
 * The connect form's own checks, in a real browser over the local preview: a mistyped fetch reference
 * is said on the reference field as the mistake it is (not as Bitbucket failing), a new project's name
 * that its owner already has is refused before anything is sent, and the preview says which Valohai
 * project connecting writes to, and that a new one is created first.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { openApp, saveAdminTokens, text, type E2e, startE2e } from './preview-support';

let e2e: E2e;

before(async () => {
  e2e = await startE2e();
  const workspace = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
  await saveAdminTokens(workspace.app, { valohai: vh.admin.token, email: bb.admin.email, bitbucket: bb.admin.token });
  await workspace.page.close();
});
after(async () => {
  await e2e?.close();
});

const projectNames = () => e2e.preview.stack.valohai.state.projects.map((p) => p.name).sort();

test('a mistyped branch is shown on the fetch reference, a taken project name is refused unsent, and the preview names the project', async () => {
  const view = await openApp(e2e.browser, e2e.preview.pageUrl({ repository: 'ml-models' }), 'connect-form');
  const { app } = view;
  const projectsBefore = projectNames();

  await app.getByTestId('fetch-ref').fill('mian');
  await app.getByTestId('preview-button').click();
  const refError = await text(app.getByTestId('fetch-ref-error'));
  assert.match(refError, /^acme\/ml-models has no branch "mian": give an existing branch's exact name \(case-sensitive\), such as main\.$/);
  assert.equal(await app.getByText('Bitbucket could not do it').count(), 0, 'a mistyped branch is not a Bitbucket failure');
  assert.equal(await app.getByTestId('preview').count(), 0);

  await app.getByTestId('fetch-ref').fill('main');
  await app.getByTestId('mode-new--radio-input').check();
  assert.equal(await app.getByTestId('project-name').inputValue(), 'ml-models-2', 'offered a name nobody has');
  await app.getByTestId('project-name').fill('ML-Models');
  const startsBefore = e2e.answers.filter((a) => a.functionKey.startsWith('start')).length;
  await app.getByTestId('connect-button').click();
  assert.match(
    await text(app.getByTestId('project-name-error')),
    /already has a project named ml-models: choose it under "Use an existing project", or give the new one another name\./,
  );
  assert.equal(e2e.answers.filter((a) => a.functionKey.startsWith('start')).length, startsBefore, 'nothing was sent');

  await app.getByTestId('project-name').fill('ml-models-nightly');
  await app.getByTestId('preview-button').click();
  assert.match(await text(app.getByTestId('preview-project')), /^A new Valohai project ml-models-nightly owned by .*acme.* is created first\.$/);

  await app.getByTestId('mode-existing--radio-input').check();
  await app.getByTestId('preview-button').click();
  assert.equal(await text(app.getByTestId('preview-project')), `Valohai project ${vh.project.name} gets the repository URL, fetch reference and key.`);

  assert.deepEqual(projectNames(), projectsBefore, 'no project was created by checking the form');
  assert.deepEqual(view.errors, []);
  await view.page.close();
});
