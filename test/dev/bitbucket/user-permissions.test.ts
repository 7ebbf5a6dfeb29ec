import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { creds, obj, startDemo, type DemoEmulator } from './support/fixture';

const PERMS = '/user/workspaces/acme/permissions/repositories';
let demo: DemoEmulator;

before(async () => {
  demo = await startDemo();
});
after(() => demo.bb.close());

const q = (expr: string) => `?q=${encodeURIComponent(expr)}`;
type Perm = { permission: string; repository: { full_name: string; uuid: string }; user: { account_id: string } };

describe('GET /user/workspaces/{workspace}/permissions/repositories', () => {
  test('gives the caller\'s effective permission on a repository found by uuid or full_name', async () => {
    const uuid = String(obj(await demo.call('/repositories/acme/ml-models')).uuid);
    const cases = [
      [creds.admin, 'admin'],
      [creds.writer, 'write'],
      [creds.reader, 'read'],
    ] as const;
    for (const [who, expected] of cases) {
      const as = { email: who.email, token: who.token };
      for (const filter of [`repository.uuid="${uuid}"`, 'repository.full_name="acme/ml-models"']) {
        const page = obj(await demo.call(`${PERMS}${q(filter)}`, { as }));
        const values = page.values as Perm[];
        assert.equal(values.length, 1, `${who.email} ${filter}`);
        assert.equal(values[0]?.permission, expected);
        assert.equal(values[0]?.repository.uuid, uuid);
      }
    }
  });

  test('without q, lists every repository the caller holds a permission on, page by page', async () => {
    const seen: string[] = [];
    let next: string | undefined = `${PERMS}?pagelen=4`;
    while (next) {
      const page = obj(await demo.call(next));
      seen.push(...(page.values as Perm[]).map((v) => `${v.repository.full_name}:${v.permission}`));
      next = page.next as string | undefined;
    }
    assert.equal(seen.length, 8);
    assert.ok(seen.every((s) => s.endsWith(':admin')));
    const outsider = obj(await demo.call(PERMS, { as: { email: creds.outsider.email, token: creds.outsider.token } }));
    assert.equal(outsider.size, 0, 'a public repository is readable but carries no granted permission');
  });

  test('combines conditions with AND / OR and refuses a malformed q', async () => {
    const as = { email: creds.reader.email, token: creds.reader.token };
    const both = obj(await demo.call(`${PERMS}${q('repository.full_name="acme/ml-models" OR repository.full_name="acme/datasets"')}`, { as }));
    assert.deepEqual((both.values as Perm[]).map((v) => v.repository.full_name), ['acme/ml-models']);
    const none = obj(await demo.call(`${PERMS}${q('permission="admin" AND repository.full_name="acme/ml-models"')}`, { as }));
    assert.equal(none.size, 0);
    for (const bad of ['repository.uuid=', '(permission="read"', 'permission "read"', '"x"="y"']) {
      const res = await demo.call(`${PERMS}${q(bad)}`, { as });
      assert.equal(res.status, 400, bad);
    }
  });
});

describe('GET /user and GET /user/workspaces/{workspace}/permission', () => {
  test('/user describes the token\'s owner', async () => {
    const me = obj(await demo.call('/user', { as: { email: creds.writer.email, token: creds.writer.token } }));
    assert.equal(me.type, 'user');
    assert.equal(me.account_id, creds.writer.accountId);
    assert.equal(me.nickname, creds.writer.nickname);
    assert.match(String(me.uuid), /^\{.+\}$/);
  });

  test('the workspace permission is the caller\'s membership role; non-members get 403', async () => {
    const admin = obj(await demo.call('/user/workspaces/acme/permission'));
    assert.equal(admin.type, 'workspace_membership');
    assert.equal(admin.permission, 'owner');
    assert.equal((admin.workspace as { slug: string }).slug, 'acme');
    const writer = obj(await demo.call('/user/workspaces/acme/permission', { as: { email: creds.writer.email, token: creds.writer.token } }));
    assert.equal(writer.permission, 'collaborator');
    const outsider = await demo.call('/user/workspaces/acme/permission', { as: { email: creds.outsider.email, token: creds.outsider.token } });
    assert.equal(outsider.status, 403);
    assert.equal((await demo.call('/user/workspaces/nope/permission')).status, 404);
  });
});

describe('GET /workspaces/{workspace}/permissions/repositories/{repo_slug}', () => {
  const path = (repo: string, filter?: string) => `/workspaces/acme/permissions/repositories/${repo}${filter ? q(filter) : ''}`;

  test("a repository admin reads any user's effective permission on it, found by account id", async () => {
    const cases = [
      [creds.admin.accountId, 'admin'],
      [creds.writer.accountId, 'write'],
      [creds.reader.accountId, 'read'],
    ] as const;
    for (const [accountId, expected] of cases) {
      const page = obj(await demo.call(path('ml-models', `user.account_id="${accountId}"`)));
      const values = page.values as Perm[];
      assert.equal(values.length, 1, accountId);
      assert.equal(values[0]?.permission, expected);
      assert.equal(values[0]?.user.account_id, accountId);
      assert.equal(values[0]?.repository.full_name, 'acme/ml-models');
    }
    const outsider = obj(await demo.call(path('ml-models', `user.account_id="${creds.outsider.accountId}"`)));
    assert.equal(outsider.size, 0, 'no permission, no entry');
  });

  test('only its admins may read it: a writer gets 403', async () => {
    const res = await demo.call(path('ml-models'), { as: { email: creds.writer.email, token: creds.writer.token } });
    assert.equal(res.status, 403);
  });
});

describe('GET /workspaces/{workspace}/permissions/repositories', () => {
  const PATH = '/workspaces/acme/permissions/repositories';

  test("a workspace admin reads one user's permission on several repositories in one request", async () => {
    const filter = `user.account_id="${creds.reader.accountId}" AND (repository.full_name="acme/ml-models" OR repository.full_name="acme/datasets")`;
    const page = obj(await demo.call(`${PATH}${q(filter)}`));
    const values = page.values as Perm[];
    assert.deepEqual(values.map((v) => `${v.repository.full_name}:${v.permission}`), ['acme/ml-models:read'], 'no permission on datasets, no entry');
    assert.ok(values.every((v) => v.user.account_id === creds.reader.accountId));
    const admin = obj(await demo.call(`${PATH}${q(`user.account_id="${creds.admin.accountId}" AND (repository.full_name="acme/ml-models" OR repository.full_name="acme/datasets")`)}`));
    assert.deepEqual((admin.values as Perm[]).map((v) => `${v.repository.full_name}:${v.permission}`).sort(), ['acme/datasets:admin', 'acme/ml-models:admin']);
  });

  test('without q it lists every user on every repository of the workspace; a malformed q is a 400', async () => {
    const all = obj(await demo.call(`${PATH}?pagelen=100`));
    const values = all.values as Perm[];
    assert.ok(values.some((v) => v.user.account_id === creds.writer.accountId && v.permission === 'write'));
    assert.ok(values.every((v) => v.repository.full_name.startsWith('acme/')));
    assert.equal((await demo.call(`${PATH}${q('repository.full_name=')}`)).status, 400);
  });

  test('only workspace admins may read it: a repository writer or an outsider gets 403, an unknown workspace 404', async () => {
    for (const who of [creds.writer, creds.reader, creds.outsider]) {
      const res = await demo.call(PATH, { as: { email: who.email, token: who.token } });
      assert.equal(res.status, 403, who.email);
    }
    assert.equal((await demo.call('/workspaces/nope/permissions/repositories')).status, 404);
  });
});
