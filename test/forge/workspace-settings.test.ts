// The workspace settings page's resolvers against the Bitbucket and Valohai emulators: who may read and
// change the stored credentials, each token checked before it is stored, and no reply, record or log
// line ever carrying a token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keys } from '../../src/forge/store/keys';
import { ALL_TOKENS, assertNoSecrets, bb, errorOf, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

let h: Harness;

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

const vhHost = () => h.stack.valohai.url;

describe('who may see and change the workspace credentials', () => {
  test('a non-member of the workspace cannot read the settings', async () => {
    const error = errorOf(await h.call('getWorkspaceSettings', {}, h.context('outsider')));
    assert.equal(error.code, 'not-admin');
    assert.match(error.fix, /admin of this workspace/);
  });

  test('a member reads the page without the right to change it, and learns only what to ask an admin about', async () => {
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('writer')));
    assert.equal(settings.canAdminister, false);
    assert.deepEqual(settings.workspace, { slug: 'acme', name: 'Acme Machine Learning' });
    // Which repositories exist (private ones included) and how each is connected is for workspace admins.
    assert.deepEqual(settings.repositories, []);
    assert.ok((valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')))).repositories.some((r) => r.fullName === 'acme/ml-models'));
  });

  test('a non-admin cannot save or clear any credential, and nothing is stored', async () => {
    for (const who of ['writer', 'reader', 'outsider'] as const) {
      const ctx = h.context(who);
      assert.equal(errorOf(await h.call('saveValohaiToken', { host: vhHost(), token: vh.admin.token }, ctx)).code, 'not-admin');
      assert.equal(errorOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, ctx)).code, 'not-admin');
      assert.equal(errorOf(await h.call('clearCredentials', { which: 'all' }, ctx)).code, 'not-admin');
    }
    assert.equal(h.platform.secrets.dump().size, 0);
    assert.equal(await h.platform.store.get(keys.settings(h.workspaceId)), undefined);
  });

  test('the payload cannot name another workspace: unknown fields are refused', async () => {
    const other = h.stack.bitbucket.state.findWorkspace('umbrella')?.uuid;
    const error = errorOf(await h.call('getWorkspaceSettings', { workspaceId: other }, h.context('outsider')));
    assert.equal(error.code, 'invalid-payload');
    assert.match(error.message, /workspaceId is not a known field/);
    const save = errorOf(await h.call('saveValohaiToken', { token: vh.admin.token, workspace: 'umbrella' }, h.context('admin')));
    assert.equal(save.code, 'invalid-payload');
    assert.equal(h.platform.secrets.dump().size, 0);
  });
});

describe('saving credentials', () => {
  test('a Valohai token is checked first: a refused one is not stored', async () => {
    const error = errorOf(await h.call('saveValohaiToken', { host: vhHost(), token: 'vh-not-a-real-token-000' }, h.context('admin')));
    assert.equal(error.code, 'invalid-token');
    assert.match(error.fix, /\/auth\/tokens\//);
    assert.equal(h.platform.secrets.dump().size, 0);
  });

  test('a working Valohai token is stored and summarised by its user, never echoed', async () => {
    const summary = valueOf(await h.call('saveValohaiToken', { host: vhHost(), token: vh.admin.token }, h.context('admin')));
    const { lifetime, ...rest } = summary;
    assert.deepEqual(rest, { configured: true, host: vhHost(), username: vh.admin.username });
    // Stored now, with no expiry date given: nothing to warn about.
    assert.deepEqual({ ...lifetime, savedAt: undefined }, { savedAt: undefined, expiresOn: null, expiresInDays: null, level: 'ok' });
    assert.ok(lifetime && Math.abs(Date.parse(lifetime.savedAt) - Date.now()) < 60_000);
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.equal(settings.valohai.username, vh.admin.username);
    assert.equal(settings.valohai.configured, true);
    // A member sees that Valohai is set up, not whose token it is.
    const member = valueOf(await h.call('getWorkspaceSettings', {}, h.context('writer')));
    assert.deepEqual(member.valohai, { configured: true, host: vhHost(), username: null });
    // The owners a bulk connect may create projects under, for admins only.
    assert.ok(settings.valohaiOwners.length > 0, 'the Valohai token names the owners it can use');
    assert.deepEqual(member.valohaiOwners, []);
  });

  test('a Bitbucket token lacking a scope is stored with the missing scope listed', async () => {
    const summary = valueOf(
      await h.call('saveBitbucketToken', { email: bb.adminWithoutWriteSshKey.email, token: bb.adminWithoutWriteSshKey.token }, h.context('admin')),
    );
    assert.equal(summary.configured, true);
    assert.equal(summary.email, bb.admin.email);
    assert.equal(summary.accountName, bb.admin.displayName);
    assert.deepEqual(summary.missingScopes, ['write:ssh-key:bitbucket']);
    // The probe asked about a repository that does not exist: nothing was added anywhere.
    assert.ok(!h.stack.bitbucket.requests.some((r) => r.method === 'POST' && r.status < 300));
  });

  test('a refused Bitbucket token leaves the stored one in place', async () => {
    const error = errorOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: 'ATATT3xWrongToken0000000' }, h.context('admin')));
    assert.equal(error.code, 'invalid-token');
    assert.match(error.fix, /id\.atlassian\.com/);
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.deepEqual(settings.bitbucket.missingScopes, ['write:ssh-key:bitbucket']);
  });

  test('a full-scope token replaces it; the page lists no missing scope', async () => {
    const summary = valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
    assert.deepEqual(summary.missingScopes, []);
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.equal(settings.canAdminister, true);
    assert.equal(settings.bitbucket.configured, true);
    assert.equal(settings.bitbucket.accountName, bb.admin.displayName);
    assert.ok(settings.repositories.every((r) => r.state === 'not-connected'));
  });

  test('a token lacking a scope the stored one has is refused, naming what would stop working, and the stored one stays', async () => {
    const secretBefore = JSON.stringify([...h.platform.secrets.dump()]);
    const error = errorOf(
      await h.call('saveBitbucketToken', { email: bb.adminWithoutWriteSshKey.email, token: bb.adminWithoutWriteSshKey.token }, h.context('admin')),
    );
    assert.equal(error.code, 'worse-token');
    assert.match(error.message, /kept/);
    assert.match(error.message, /write:ssh-key:bitbucket/);
    assert.match(error.message, /Connect and Rotate fail/);
    assert.doesNotMatch(error.message, /another account|not an admin/, 'the same admin account: only the scope is lost');
    assert.match(error.fix, /Replace anyway/);
    assert.equal(JSON.stringify([...h.platform.secrets.dump()]), secretBefore, 'the working token is still the stored one');
    assert.deepEqual(valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin'))).bitbucket.missingScopes, []);
  });

  test("another account's token, not a workspace admin's, is refused for both; confirmed, it replaces the stored one", async () => {
    const error = errorOf(await h.call('saveBitbucketToken', { email: bb.writer.email, token: bb.writer.token }, h.context('admin')));
    assert.equal(error.code, 'worse-token');
    assert.match(error.message, /not an admin of this workspace/);
    assert.match(error.message, new RegExp(`not of ${bb.admin.displayName}`));
    assert.equal(valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin'))).bitbucket.email, bb.admin.email);

    const summary = valueOf(await h.call('saveBitbucketToken', { email: bb.writer.email, token: bb.writer.token, confirmWorse: true }, h.context('admin')));
    assert.equal(summary.email, bb.writer.email);
    assert.equal(summary.workspaceAdmin, false);
    // Back to the admin's token: it is another account's again, which is asked about, but nothing else is lost.
    const back = errorOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
    assert.equal(back.code, 'worse-token');
    assert.match(back.message, new RegExp(`not of ${bb.writer.displayName}`));
    assert.doesNotMatch(back.message, /lacks|not an admin/);
    assert.equal(valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token, confirmWorse: true }, h.context('admin'))).email, bb.admin.email);
  });

  test('a stored token Bitbucket refuses is replaced without a question', async () => {
    const ws = h.workspaceId;
    const summary = (await h.platform.store.get<{ bitbucket: Record<string, unknown> }>(keys.settings(ws))) as { bitbucket: Record<string, unknown> };
    await h.platform.store.set(keys.settings(ws), { ...summary, bitbucket: { ...summary.bitbucket, problem: { code: 'invalid-token', message: 'Refused (401).', fix: 'Save a new one.' } } });
    const saved = valueOf(
      await h.call('saveBitbucketToken', { email: bb.adminWithoutWriteSshKey.email, token: bb.adminWithoutWriteSshKey.token }, h.context('admin')),
    );
    assert.deepEqual(saved.missingScopes, ['write:ssh-key:bitbucket']);
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  });

  test('clearing the Bitbucket token keeps the Valohai one', async () => {
    const settings = valueOf(await h.call('clearCredentials', { which: 'bitbucket' }, h.context('admin')));
    assert.equal(settings.bitbucket.configured, false);
    assert.equal(settings.valohai.configured, true);
    assert.equal(h.platform.secrets.dump().size, 1);
  });

  test('no reply, record, log line or queue message holds a token', () => {
    const texts: [string, string][] = [
      ...h.replies.map((r, i): [string, string] => [`reply ${i}`, r]),
      ...[...h.platform.store.dump()].map(([k, v]): [string, string] => [`record ${k}`, v]),
      ...h.platform.log.lines.map((l, i): [string, string] => [`log ${i}`, JSON.stringify(l)]),
      ...h.platform.enqueued.map((m, i): [string, string] => [`queue ${i}`, JSON.stringify(m)]),
    ];
    assert.ok(assertNoSecrets(texts, [], [...ALL_TOKENS, 'vh-not-a-real-token-000', 'ATATT3xWrongToken0000000']) > 20);
  });
});
