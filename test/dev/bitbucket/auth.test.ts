import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NOT_VISIBLE_MESSAGE, RATE_LIMIT_MESSAGE, RETIRED_CHANGE, WRONG_MECHANISM_MESSAGE } from '../../../dev/bitbucket/index';
import { ed25519PublicKeyFor } from '../../../dev/seed/index';
import { creds, errorMessage, obj, startDemo, type DemoEmulator } from './support/fixture';

const REPO = '/repositories/acme/ml-models';
const KEYS = `${REPO}/deploy-keys`;
let demo: DemoEmulator;

before(async () => {
  demo = await startDemo();
});
after(() => demo.bb.close());

describe('credentials', () => {
  test('missing, wrong or malformed credentials get a plain-text 401', async () => {
    const attempts = [
      'anonymous' as const,
      { email: creds.admin.email, token: 'wrong-token' },
      { email: 'nobody@acme.test', token: creds.admin.token },
      { bearer: 'not-a-token' },
      { header: 'Token abc' },
      { header: `Basic ${Buffer.from('no-colon').toString('base64')}` },
    ];
    for (const as of attempts) {
      const res = await demo.call(REPO, { as });
      assert.equal(res.status, 401, JSON.stringify(as));
      assert.match(res.contentType, /^text\/plain/);
    }
  });

  test('the email part of Basic auth is case-insensitive', async () => {
    const res = await demo.call(REPO, { as: { email: creds.admin.email.toUpperCase(), token: creds.admin.token } });
    assert.equal(res.status, 200);
  });
});

describe('access tokens (Bearer)', () => {
  test('are refused on access-key routes with "not accessible by this authentication mechanism"', async () => {
    const as = { bearer: creds.repositoryAccessToken.token };
    for (const [method, path] of [['GET', KEYS], ['POST', KEYS], ['GET', `${KEYS}/1`], ['PUT', `${KEYS}/1`], ['DELETE', `${KEYS}/1`]] as const) {
      const res = await demo.call(path, { as, method, body: method === 'POST' || method === 'PUT' ? { key: ed25519PublicKeyFor('bearer'), label: 'x' } : undefined });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(errorMessage(res), WRONG_MECHANISM_MESSAGE);
    }
    const user = await demo.call('/user', { as });
    assert.equal(user.status, 403);
  });

  test('read the repositories they are bound to; any other private one is 404, as if it did not exist', async () => {
    const repoToken = { bearer: creds.repositoryAccessToken.token };
    assert.equal((await demo.call(REPO, { as: repoToken })).status, 200);
    assert.equal((await demo.call('/repositories/acme/datasets', { as: repoToken })).status, 404);
    const wsToken = { bearer: creds.workspaceAccessToken.token };
    assert.equal((await demo.call('/repositories/acme/datasets', { as: wsToken })).status, 200);
    assert.equal((await demo.call('/repositories/umbrella/vault', { as: wsToken })).status, 404);
  });
});

describe('scopes and permissions', () => {
  test('a token without write:ssh-key:bitbucket cannot add a key, and the 403 names the scope', async () => {
    const as = { email: creds.adminWithoutWriteSshKey.email, token: creds.adminWithoutWriteSshKey.token };
    const res = await demo.call(KEYS, { as, method: 'POST', body: { key: ed25519PublicKeyFor('scope-test'), label: 'x' } });
    assert.equal(res.status, 403);
    assert.ok(res.text.includes('write:ssh-key:bitbucket'), res.text);
    assert.equal((await demo.call(KEYS, { as })).status, 200, 'listing needs only admin:repository');
    assert.equal(demo.bb.state.accessKeys('acme', 'ml-models').length, 0, 'nothing was added');
  });

  test('delete needs delete:ssh-key:bitbucket', async () => {
    const repo = demo.bb.state.findRepo('acme', 'datasets');
    assert.ok(repo);
    const entry = demo.bb.state.addAccessKey(repo, { key: ed25519PublicKeyFor('delete-scope'), label: 'x' });
    const token = 'ATATT3xTestNoDeleteScope';
    const admin = demo.bb.state.findUser(creds.admin.email);
    assert.ok(admin);
    demo.bb.state.apiTokens.push({ user: admin, token, scopes: new Set(['admin:repository:bitbucket']) });
    const res = await demo.call(`/repositories/acme/datasets/deploy-keys/${entry.id}`, { as: { email: creds.admin.email, token }, method: 'DELETE' });
    assert.equal(res.status, 403);
    assert.ok(res.text.includes('delete:ssh-key:bitbucket'), res.text);
    assert.equal(demo.bb.state.accessKeys('acme', 'datasets').length, 1);
  });

  test('a user with write but not admin sees the repository (200), so access keys are 403 to it, not 404', async () => {
    const as = { email: creds.writer.email, token: creds.writer.token };
    assert.equal((await demo.call(REPO, { as })).status, 200);
    const list = await demo.call(KEYS, { as });
    assert.equal(list.status, 403);
    assert.match(errorMessage(list), /Administrator access/);
    const add = await demo.call(KEYS, { as, method: 'POST', body: { key: ed25519PublicKeyFor('writer'), label: 'x' } });
    assert.equal(add.status, 403);
  });

  test('a private repository the caller cannot see is 404 on every route below it, worded as an unknown one', async () => {
    const as = { email: creds.outsider.email, token: creds.outsider.token };
    const key = { key: ed25519PublicKeyFor('outsider'), label: 'x' };
    const calls: [string, string, unknown?][] = [
      ['GET', REPO],
      ['GET', `${REPO}/refs/branches/main`],
      ['GET', `${REPO}/src/main/README.md`],
      ['GET', `${REPO}/src/main/.gitmodules?format=meta`],
      ['GET', KEYS],
      ['POST', KEYS, key],
      ['GET', `${KEYS}/1`],
      ['PUT', `${KEYS}/1`, { label: 'y' }],
      ['DELETE', `${KEYS}/1`],
      ['GET', '/workspaces/acme/permissions/repositories/ml-models'],
    ];
    for (const [method, path, body] of calls) {
      const res = await demo.call(path, { as, method, body });
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
      assert.deepEqual(res.json, { type: 'error', error: { message: NOT_VISIBLE_MESSAGE } }, `${method} ${path}`);
    }
    assert.match(NOT_VISIBLE_MESSAGE, /^You may not have access to this repository or it no longer exists in this workspace\./);
    assert.equal(demo.bb.state.accessKeys('acme', 'ml-models').length, 0, 'the outsider added nothing');
    assert.equal((await demo.call('/repositories/acme/docs-site', { as })).status, 200, 'public repositories are readable');
    for (const path of ['/repositories/acme/no-such-repo', '/repositories/no-such-workspace/ml-models/deploy-keys']) {
      const missing = await demo.call(path);
      assert.equal(missing.status, 404, path);
      assert.equal(errorMessage(missing), NOT_VISIBLE_MESSAGE, 'an unknown repository reads exactly like an invisible one');
    }
  });
});

describe('retired endpoints', () => {
  test('answer 410 with the CHANGE-2770 body, whoever asks', async () => {
    for (const path of ['/repositories', '/workspaces', '/user/permissions/repositories', '/user/permissions/workspaces']) {
      for (const as of [creds.admin, 'anonymous' as const]) {
        const res = await demo.call(path, { as });
        assert.equal(res.status, 410, path);
        const body = obj(res);
        assert.equal(body.type, 'error');
        const error = body.error as { message: string; detail: string; data: { announcement_url: string } };
        assert.equal(error.message, `${RETIRED_CHANGE} - Functionality has been deprecated`);
        assert.equal(error.detail, 'Please read the changelog entry for more details.');
        assert.match(error.data.announcement_url, /^https:\/\/developer\.atlassian\.com\/.*CHANGE-2770/);
      }
    }
  });
});

describe('rate limit', () => {
  test('each user has an hourly budget on /repositories; spent, a plain-text 429 without Retry-After until the hour rolls', async () => {
    let now = new Date('2025-01-01T00:00:00Z');
    const limited = await startDemo({ rateLimitPerHour: 3, clock: () => now });
    try {
      const admin = creds.admin;
      for (let i = 0; i < 3; i++) assert.equal((await limited.call(REPO)).status, 200);
      const over = await limited.call(`${REPO}/src/main/README.md`);
      assert.equal(over.status, 429);
      assert.match(over.contentType, /^text\/plain/);
      assert.equal(over.text, `${RATE_LIMIT_MESSAGE}.`);
      assert.equal(over.headers.get('retry-after'), null, 'Bitbucket says nothing of when it lets the user in again');
      assert.equal((await limited.call('/user')).status, 200, '/user is outside the /repositories budget');
      const writer = { email: creds.writer.email, token: creds.writer.token };
      assert.equal((await limited.call(REPO, { as: writer })).status, 200, 'another user has their own budget');
      now = new Date(now.getTime() + 59 * 60 * 1000);
      assert.equal((await limited.call(REPO, { as: admin })).status, 429);
      now = new Date(now.getTime() + 2 * 60 * 1000);
      assert.equal((await limited.call(REPO, { as: admin })).status, 200);
    } finally {
      await limited.bb.close();
    }
  });

  test('API tokens get no rate-limit header; access tokens get the limit, the resource and near-limit, never what is left', async () => {
    const limited = await startDemo({ rateLimitPerHour: 5 });
    try {
      const user = await limited.call(REPO);
      assert.equal(user.status, 200);
      for (const h of ['x-ratelimit-limit', 'x-ratelimit-resource', 'x-ratelimit-nearlimit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
        assert.equal(user.headers.get(h), null, `${h} on an API token's answer`);
      }
      const bearer = { bearer: creds.repositoryAccessToken.token };
      const first = await limited.call(REPO, { as: bearer });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-ratelimit-limit'), '5');
      assert.equal(first.headers.get('x-ratelimit-resource'), 'api.repositories');
      assert.equal(first.headers.get('x-ratelimit-nearlimit'), 'false');
      assert.equal(first.headers.get('x-ratelimit-remaining'), null);
      for (let i = 0; i < 3; i++) await limited.call(REPO, { as: bearer });
      assert.equal((await limited.call(REPO, { as: bearer })).headers.get('x-ratelimit-nearlimit'), 'true', 'under a fifth left');
    } finally {
      await limited.bb.close();
    }
  });

  test('may hold a request before answering 429', async () => {
    const limited = await startDemo({ rateLimitPerHour: 1, rateLimitHoldMs: 300 });
    try {
      assert.equal((await limited.call(REPO)).status, 200);
      const started = Date.now();
      assert.equal((await limited.call(REPO)).status, 429);
      assert.ok(Date.now() - started >= 290, 'held before the answer');
    } finally {
      await limited.bb.close();
    }
  });

  // The bound is the test's own: a hold left running would keep it waiting out the 30 s.
  test('closing lets a held request go instead of waiting out its hold', { timeout: 10_000 }, async () => {
    const limited = await startDemo({ rateLimitPerHour: 1, rateLimitHoldMs: 30_000 });
    assert.equal((await limited.call(REPO)).status, 200);
    const held = limited.call(REPO).then(
      () => 'answered',
      () => 'cut off',
    );
    // Time for the request to reach the emulator's hold.
    await new Promise((r) => setTimeout(r, 300));
    await limited.bb.close();
    assert.equal(await held, 'cut off', 'the held request ends with the server, unanswered');
    // Let go, its 429 is logged now, not when the 30 s would have passed.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(limited.bb.requests.map((r) => r.status), [200, 429]);
  });

  test("a user's hour spent by other use is refused until an hour after it was spent", async () => {
    let now = new Date('2025-01-01T00:00:00Z');
    const limited = await startDemo({ rateLimitPerHour: 5, clock: () => now });
    try {
      assert.equal((await limited.call(REPO)).status, 200);
      limited.bb.spendHour(creds.admin.accountId, new Date(now.getTime() - 59 * 60 * 1000));
      assert.equal((await limited.call(REPO)).status, 429);
      const writer = { email: creds.writer.email, token: creds.writer.token };
      assert.equal((await limited.call(REPO, { as: writer })).status, 200, "another user's hour is their own");
      now = new Date(now.getTime() + 61 * 1000);
      // The four spent 59 minutes ago have left the hour; the one this user sent has not.
      for (let i = 0; i < 4; i++) assert.equal((await limited.call(REPO)).status, 200, `request ${i + 1} after the hour rolled`);
      assert.equal((await limited.call(REPO)).status, 429);
    } finally {
      await limited.bb.close();
    }
  });
});
