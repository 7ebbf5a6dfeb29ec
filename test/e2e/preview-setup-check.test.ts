/**
 * "Check the set-up" on the workspace page, in a real browser over the local preview: once both tokens
 * are stored the section appears, and one click shows a line per check, each with its verdict.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { openApp, saveAdminTokens, startE2e, text, until, type E2e } from './preview-support';

let e2e: E2e;

before(async () => {
  e2e = await startE2e();
});
after(async () => {
  await e2e?.close();
});

test('the section runs the check and shows each line: pass for the tokens, unknown where nothing is connected yet', async () => {
  const { app, page, errors } = await openApp(e2e.browser, e2e.preview.pageUrl(), 'valohai-section');
  assert.equal(await app.getByTestId('setup-check-section').count(), 0, 'no check before the tokens are stored');
  await saveAdminTokens(app, { valohai: vh.admin.token, email: bb.admin.email, bitbucket: bb.admin.token });
  await app.getByTestId('setup-check-run').click();
  const summary = await until(app.getByTestId('setup-check-summary'), /requests \(at most 10\); nothing was changed/, 20_000);
  assert.match(summary, /Everything checked works/);
  const line = (check: string) => text(app.getByTestId(`setup-check-line-${check}`));
  for (const check of ['bitbucket-token', 'bitbucket-scopes', 'bitbucket-admin', 'clock', 'valohai-host', 'valohai-token']) {
    assert.match(await line(check), /^Pass/, check);
  }
  assert.match(await line('bitbucket-rate-limit'), /^Info/);
  assert.match(await line('bitbucket-access-keys'), /^Unknown[\s\S]*none is connected[\s\S]*Fix: Connect a repository/);
  assert.match(await line('valohai-repository-write'), /^Unknown/);
  assert.deepEqual(errors, []);
  await page.close();
});
