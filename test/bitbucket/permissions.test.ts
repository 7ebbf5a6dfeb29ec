import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BitbucketAuthError, BitbucketForbiddenError, BitbucketRateLimitError, errorForResponse } from '../../src/bitbucket/errors';
import {
  accountPermissionsIn,
  accountRepositoryPermission,
  callerRepositoryPermission,
  isMissingScopeError,
  probeAccessKeyScopes,
} from '../../src/bitbucket/permissions';
import { createFetchTransport, type BitbucketRequest, type BitbucketResponse, type BitbucketTransport } from '../../src/bitbucket/transport';
import { InvalidPathSegmentError } from '../../src/http/path';
import { EMAIL, errorBody, startFakeBitbucket, TOKEN, type FakeBitbucket, type FakeRepo } from './fake-bitbucket';

const WS = '{aaaaaaaa-1111-4222-8333-444444444444}';
const ACCOUNT = '557058:ada';
const LACKS = errorBody('Your credentials lack one or more required privilege scopes.');

const json = (status: number, body: unknown): BitbucketResponse => ({ status, headers: {}, text: typeof body === 'string' ? body : JSON.stringify(body) });

function stub(answer: (req: BitbucketRequest, n: number) => BitbucketResponse, baseUrl?: string): BitbucketTransport & { sent: BitbucketRequest[] } {
  const sent: BitbucketRequest[] = [];
  return {
    sent,
    ...(baseUrl ? { baseUrl } : {}),
    request: async (req) => {
      sent.push(req);
      return answer(req, sent.length);
    },
  };
}

const offline = stub(() => {
  throw new Error('offline');
});

const queryOf = (req: BitbucketRequest | undefined) => new URL(`https://x${req?.path ?? ''}`).searchParams.get('q');

describe("the caller's permission on a repository, against an HTTP server", () => {
  let bb: FakeBitbucket;
  let asUser: BitbucketTransport;
  const repos = (): FakeRepo[] => [
    { workspace: 'acme', slug: 'models', uuid: '{11111111-2222-4333-8444-555555555555}', branches: {}, files: {}, keys: [], permission: 'admin' },
    { workspace: 'acme', slug: 'Data', uuid: '{99999999-2222-4333-8444-555555555555}', branches: {}, files: {}, keys: [], permission: 'read' },
  ];

  before(async () => {
    bb = await startFakeBitbucket(repos());
    asUser = createFetchTransport({ baseUrl: bb.baseUrl, email: EMAIL, apiToken: TOKEN });
  });
  after(async () => {
    await bb.close();
  });
  beforeEach(() => {
    bb.faults.clear();
    bb.log.length = 0;
  });

  it("finds the caller's entry by name (any case), whatever else the server lists", async () => {
    assert.equal(await callerRepositoryPermission(asUser, 'acme', 'models'), 'admin');
    assert.equal(await callerRepositoryPermission(asUser, 'acme', 'data'), 'read');
    assert.equal(await callerRepositoryPermission(asUser, 'acme', 'secret'), 'none');
    assert.equal(bb.log.length, 3);
    const first = new URL(`http://x${bb.log[0]?.path}`);
    assert.equal(first.pathname, '/2.0/user/workspaces/acme/permissions/repositories');
    assert.equal(first.searchParams.get('q'), 'repository.full_name="acme/models"');
  });

  it('is "none" where the caller is no member (403, 404), "unreadable" on other failures, each one request', async () => {
    for (const [status, read] of [
      [403, 'none'],
      [404, 'none'],
      [500, 'unreadable'],
      [429, 'unreadable'],
    ] as const) {
      bb.faults.clear();
      bb.log.length = 0;
      bb.faults.add({ path: '/permissions/repositories', status, body: errorBody(`status ${status}`) });
      assert.equal(await callerRepositoryPermission(asUser, 'acme', 'models'), read, `status ${status}`);
      assert.equal(bb.log.length, 1);
    }
    bb.faults.clear();
    bb.faults.add({ path: '/permissions/repositories', malformed: true });
    assert.equal(await callerRepositoryPermission(asUser, 'acme', 'models'), 'unreadable');
  });

  it('is "unreadable" when the request gets no answer, and throws for names that cannot be part of a path', async () => {
    assert.equal(await callerRepositoryPermission(offline, 'acme', 'models'), 'unreadable');
    await assert.rejects(callerRepositoryPermission(asUser, '..', 'models'), InvalidPathSegmentError);
    assert.equal(bb.log.length, 0);
  });
});

describe("an account's permission on one repository, read with a stored token", () => {
  const entries = (values: unknown[]) => stub(() => json(200, { values }));

  it("reads the account's entry, ignoring other accounts'", async () => {
    const t = entries([
      { permission: 'admin', user: { account_id: 'someone-else' } },
      { permission: 'write', user: { account_id: ACCOUNT } },
    ]);
    assert.equal(await accountRepositoryPermission(t, ACCOUNT, 'acme', 'models'), 'write');
    assert.equal(t.sent[0]?.path.split('?')[0], '/workspaces/acme/permissions/repositories/models');
    assert.equal(queryOf(t.sent[0]), `user.account_id="${ACCOUNT}"`);
    assert.equal(await accountRepositoryPermission(entries([]), ACCOUNT, 'acme', 'models'), 'none');
  });

  it('is "unreadable" where the token may not read it or the read fails', async () => {
    for (const status of [403, 404, 500]) {
      assert.equal(await accountRepositoryPermission(stub(() => json(status, errorBody('No'))), ACCOUNT, 'acme', 'models'), 'unreadable');
    }
    assert.equal(await accountRepositoryPermission(stub(() => json(200, 'null')), ACCOUNT, 'acme', 'models'), 'unreadable');
    assert.equal(await accountRepositoryPermission(offline, ACCOUNT, 'acme', 'models'), 'unreadable');
  });

  it('throws on 401 and 429: no other read would mend them', async () => {
    const auth = await accountRepositoryPermission(stub(() => json(401, 'Unauthorized')), ACCOUNT, 'acme', 'models').catch((e: unknown) => e);
    assert.ok(auth instanceof BitbucketAuthError);
    const limited = await accountRepositoryPermission(stub(() => json(429, 'Rate limit for this resource has been exceeded')), ACCOUNT, 'acme', 'models').catch(
      (e: unknown) => e,
    );
    assert.ok(limited instanceof BitbucketRateLimitError);
    assert.match(limited.message, /while checking what the person acting may do on acme\/models \(429\)/);
  });
});

describe("an account's permissions on many repositories at once", () => {
  const ROOT = 'https://api.example.test/2.0';
  const NAMES = ['acme/models', 'acme/data'];
  const entry = (name: string, permission: string, account = ACCOUNT) => ({ permission, user: { account_id: account }, repository: { full_name: name } });

  it('names every repository in one filtered query and maps each it finds', async () => {
    const t = stub(() => json(200, { values: [entry('Acme/Models', 'admin'), entry('acme/data', 'admin', 'other'), entry('acme/elsewhere', 'admin')] }), ROOT);
    const found = await accountPermissionsIn(t, ACCOUNT, 'acme', NAMES);
    assert.deepEqual([...(found ?? [])], [['acme/models', 'admin']]);
    assert.equal(t.sent.length, 1);
    assert.equal(t.sent[0]?.path.split('?')[0], '/workspaces/acme/permissions/repositories');
    assert.equal(queryOf(t.sent[0]), `user.account_id="${ACCOUNT}" AND (repository.full_name="acme/models" OR repository.full_name="acme/data")`);
  });

  it('follows next links below the transport root only', async () => {
    const paged = stub((_req, n) => json(200, n === 1 ? { values: [entry('acme/models', 'admin')], next: `${ROOT}/workspaces/acme/permissions/repositories?page=2` } : { values: [entry('acme/data', 'read')] }), ROOT);
    const found = await accountPermissionsIn(paged, ACCOUNT, 'acme', NAMES);
    assert.deepEqual(Object.fromEntries(found ?? []), { 'acme/models': 'admin', 'acme/data': 'read' });
    assert.equal(paged.sent[1]?.path, '/workspaces/acme/permissions/repositories?page=2');
    const away = stub(() => json(200, { values: [], next: 'https://elsewhere.example/2.0/workspaces/acme/permissions/repositories?page=2' }), ROOT);
    assert.equal(await accountPermissionsIn(away, ACCOUNT, 'acme', NAMES), undefined);
    assert.equal(away.sent.length, 1);
  });

  it('gives up (undefined) on a refusal, a failure, a malformed or an endless answer', async () => {
    assert.equal(await accountPermissionsIn(stub(() => json(403, errorBody('No'))), ACCOUNT, 'acme', NAMES), undefined);
    assert.equal(await accountPermissionsIn(stub(() => json(200, { values: 'x' })), ACCOUNT, 'acme', NAMES), undefined);
    assert.equal(await accountPermissionsIn(offline, ACCOUNT, 'acme', NAMES), undefined);
    const endless = stub((_req, n) => json(200, { values: [], next: `${ROOT}/workspaces/acme/permissions/repositories?page=${n + 1}` }), ROOT);
    assert.equal(await accountPermissionsIn(endless, ACCOUNT, 'acme', NAMES), undefined);
    assert.equal(endless.sent.length, 4);
  });

  it('throws on 401 and 429', async () => {
    await assert.rejects(accountPermissionsIn(stub(() => json(401, 'Unauthorized')), ACCOUNT, 'acme', NAMES), BitbucketAuthError);
    const limited = await accountPermissionsIn(stub(() => json(429, '')), ACCOUNT, 'acme', NAMES).catch((e: unknown) => e);
    assert.ok(limited instanceof BitbucketRateLimitError);
    assert.match(limited.message, /on the repositories of acme \(429\)/);
  });
});

describe("the probe of a token's access-key scopes", () => {
  const SCOPE_OF: Record<string, string> = {
    'GET repo': 'read:repository:bitbucket',
    'GET keys': 'admin:repository:bitbucket',
    'POST keys': 'write:ssh-key:bitbucket',
    'DELETE key': 'delete:ssh-key:bitbucket',
  };
  const kindOf = (req: BitbucketRequest) => `${req.method} ${req.path.endsWith('/deploy-keys/0') ? 'key' : req.path.endsWith('/deploy-keys') ? 'keys' : 'repo'}`;
  /** Answers 403 "lacks scopes" for the probes of `lacking`, 404 for the others. */
  const lacking = (...scopes: string[]) => stub((req) => (scopes.includes(SCOPE_OF[kindOf(req)] ?? '') ? json(403, LACKS) : json(404, errorBody('No such repository'))));

  it('asks four questions about a repository that does not exist, changing nothing', async () => {
    const t = lacking();
    assert.deepEqual(await probeAccessKeyScopes(t, WS), { kind: 'answered', missing: new Set() });
    assert.deepEqual(t.sent.map(kindOf).sort(), ['DELETE key', 'GET keys', 'GET repo', 'POST keys']);
    for (const req of t.sent) assert.match(req.path, /^\/repositories\/%7Baaaaaaaa-1111-4222-8333-444444444444%7D\/valohai-scope-probe-[0-9a-f]{12}(\/|$)/);
  });

  it('names a scope missing from its own 403, and a dependent one only when the one it needs is there', async () => {
    assert.deepEqual(await probeAccessKeyScopes(lacking('write:ssh-key:bitbucket'), WS), { kind: 'answered', missing: new Set(['write:ssh-key:bitbucket']) });
    // Without admin:repository the key calls are refused for that scope alone.
    const noAdmin = await probeAccessKeyScopes(lacking('admin:repository:bitbucket', 'write:ssh-key:bitbucket', 'delete:ssh-key:bitbucket'), WS);
    assert.deepEqual(noAdmin, { kind: 'answered', missing: new Set(['admin:repository:bitbucket']) });
  });

  it('reads the list of missing scopes when Bitbucket gives one, and ignores a 403 about something else', async () => {
    const named = stub((req) =>
      kindOf(req) === 'GET repo' ? json(403, { type: 'error', error: { message: 'Forbidden', data: { missing: ['read:repository:bitbucket', 7] } } }) : json(404, ''),
    );
    assert.deepEqual(await probeAccessKeyScopes(named, WS), { kind: 'answered', missing: new Set(['read:repository:bitbucket']) });
    const blocked = stub(() => json(403, '<html><title>Blocked by proxy</title></html>'));
    assert.deepEqual(await probeAccessKeyScopes(blocked, WS), { kind: 'answered', missing: new Set() });
  });

  it('says the token was refused on any 401, and unanswered when a request got no answer', async () => {
    assert.deepEqual(await probeAccessKeyScopes(stub((req) => (kindOf(req) === 'DELETE key' ? json(401, '') : json(403, LACKS))), WS), { kind: 'refused' });
    assert.deepEqual(await probeAccessKeyScopes(offline, WS), { kind: 'unanswered' });
  });

  it('tells a missing scope from other refusals', () => {
    const headers = {};
    assert.equal(isMissingScopeError(errorForResponse({ status: 403, headers, text: JSON.stringify(LACKS) }, { action: 'x', idempotent: true })), true);
    const denied = errorForResponse({ status: 403, headers, text: JSON.stringify(errorBody('Access denied')) }, { action: 'x', idempotent: true });
    assert.ok(denied instanceof BitbucketForbiddenError);
    assert.equal(isMissingScopeError(denied), false);
    assert.equal(isMissingScopeError(new Error('lack one or more required privilege scopes')), false);
  });
});
