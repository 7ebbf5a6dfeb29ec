import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BitbucketError, BitbucketMalformedResponseError, BitbucketNotFoundError } from '../../src/bitbucket/errors';
import { createFetchTransport, type BitbucketRequest, type BitbucketResponse, type BitbucketTransport } from '../../src/bitbucket/transport';
import {
  firstRepositoryPage,
  getWorkspaceMembership,
  listRepositoryPage,
  listWorkspaceRepositories,
  tokenAdministersWorkspace,
} from '../../src/bitbucket/workspace';
import { EMAIL, errorBody, startFakeBitbucket, TOKEN, type FakeBitbucket, type FakeRepo } from './fake-bitbucket';

const WS = '{aaaaaaaa-1111-4222-8333-444444444444}';
const BARE_WS = 'AAAAAAAA-1111-4222-8333-444444444444';
const WS_SEGMENT = '%7Baaaaaaaa-1111-4222-8333-444444444444%7D';

/** `count` repositories of the workspace named by its UUID, slugs in listing order. */
function manyRepos(count: number): FakeRepo[] {
  return Array.from({ length: count }, (_, i) => ({
    workspace: WS,
    slug: `repo-${String(i).padStart(3, '0')}`,
    uuid: `{00000000-0000-4000-8000-${String(i).padStart(12, '0')}}`,
    branches: {},
    files: {},
    keys: [],
  }));
}

const json = (status: number, body: unknown): BitbucketResponse => ({ status, headers: {}, text: typeof body === 'string' ? body : JSON.stringify(body) });

/** A transport answering from `answer`, recording each request. */
function stub(answer: (req: BitbucketRequest) => BitbucketResponse | Promise<BitbucketResponse>): BitbucketTransport & { sent: BitbucketRequest[] } {
  const sent: BitbucketRequest[] = [];
  return {
    sent,
    request: async (req) => {
      sent.push(req);
      return answer(req);
    },
  };
}

describe('the workspace listing against an HTTP server', () => {
  let bb: FakeBitbucket;
  let transport: BitbucketTransport;

  before(async () => {
    bb = await startFakeBitbucket(manyRepos(150));
    transport = createFetchTransport({ baseUrl: bb.baseUrl, email: EMAIL, apiToken: TOKEN });
  });
  after(async () => {
    await bb.close();
  });
  beforeEach(() => {
    bb.faults.clear();
    bb.log.length = 0;
  });

  it('names the workspace by its braced UUID, 100 a page, by slug', () => {
    assert.equal(firstRepositoryPage(BARE_WS), `/repositories/${WS_SEGMENT}?pagelen=100&sort=slug`);
    assert.equal(firstRepositoryPage(WS), firstRepositoryPage(BARE_WS));
  });

  it('lists every repository across pages, one request a page', async () => {
    const listing = await listWorkspaceRepositories(transport, BARE_WS, 1000);
    assert.equal(listing.repositories.length, 150);
    assert.equal(listing.truncated, false);
    assert.equal(listing.repositories[0]?.fullName, `${WS}/repo-000`);
    assert.deepEqual(
      bb.log.map((r) => r.path),
      [`/2.0/repositories/${WS_SEGMENT}?pagelen=100&sort=slug`, `/2.0/repositories/${WS_SEGMENT}?pagelen=100&sort=slug&page=2`],
    );
  });

  it('stops at `max`, reading no page beyond it, and says the listing was cut', async () => {
    const one = await listWorkspaceRepositories(transport, WS, 50);
    assert.equal(one.repositories.length, 50);
    assert.equal(one.truncated, true);
    assert.equal(bb.log.length, 1);
    const two = await listWorkspaceRepositories(transport, WS, 120);
    assert.equal(two.repositories.length, 120);
    assert.equal(two.truncated, true);
    assert.equal(bb.log.length, 3);
  });

  it('gives a page with its size and the next page as a path below the API root', async () => {
    const page = await listRepositoryPage(transport, firstRepositoryPage(WS));
    assert.equal(page.repositories.length, 100);
    assert.equal(page.size, 150);
    assert.equal(page.next, `/repositories/${WS_SEGMENT}?pagelen=100&sort=slug&page=2`);
    const last = await listRepositoryPage(transport, page.next ?? '');
    assert.equal(last.repositories.length, 50);
    assert.equal(last.next, null);
  });

  it('maps a failure as the client does, without retrying it', async () => {
    bb.faults.add({ path: '/repositories/', status: 500, body: errorBody('Something broke') });
    const err = await listWorkspaceRepositories(transport, WS, 1000).catch((e: unknown) => e);
    assert.ok(err instanceof BitbucketError);
    assert.match(err.message, /^Bitbucket answered 500 while listing the workspace's repositories/);
    assert.equal(bb.log.length, 1);
  });

  it('reports an answer that is not JSON as malformed', async () => {
    bb.faults.add({ path: '/repositories/', malformed: true });
    await assert.rejects(listRepositoryPage(transport, firstRepositoryPage(WS)), BitbucketMalformedResponseError);
  });
});

describe('a listing page', () => {
  const page = (body: unknown) => stub(() => json(200, body));

  it('keeps only the path below /2.0 of a next link, whatever its host', async () => {
    const next = await listRepositoryPage(page({ values: [], next: 'https://elsewhere.example/2.0/repositories/x?page=2' }), '/repositories/x');
    assert.equal(next.next, '/repositories/x?page=2');
    const outside = await listRepositoryPage(page({ values: [], next: 'https://elsewhere.example/steal?page=2' }), '/repositories/x');
    assert.equal(outside.next, null);
  });

  it('refuses a next link back to the same page', async () => {
    const err = await listRepositoryPage(page({ values: [], next: 'https://api.bitbucket.org/2.0/repositories/x' }), '/repositories/x').catch((e: unknown) => e);
    assert.ok(err instanceof BitbucketMalformedResponseError);
    assert.match(err.message, /kept pointing to the same page/);
  });

  it('skips entries that are no repository and takes the workspace from the first that names it', async () => {
    const result = await listRepositoryPage(
      page({
        values: [
          { slug: 'no-uuid' },
          { uuid: '{1}', full_name: 'acme/a', workspace: { slug: 'acme', name: 'Acme Inc' } },
          { uuid: '{2}', full_name: 'acme/b', workspace: { slug: 'acme' } },
        ],
        size: -1,
      }),
      '/repositories/x',
    );
    assert.deepEqual(
      result.repositories.map((r) => r.fullName),
      ['acme/a', 'acme/b'],
    );
    assert.deepEqual(result.workspace, { slug: 'acme', name: 'Acme Inc' });
    assert.equal(result.size, null);
  });

  it('is not an empty listing when Bitbucket does not show the workspace (404)', async () => {
    await assert.rejects(listWorkspaceRepositories(stub(() => json(404, errorBody('No workspace'))), WS, 10), BitbucketNotFoundError);
  });
});

describe("the caller's workspace membership", () => {
  it('reads the role and the workspace from one request, by the braced UUID', async () => {
    const t = stub(() => json(200, { permission: 'owner', workspace: { slug: 'acme', name: 'Acme' } }));
    assert.deepEqual(await getWorkspaceMembership(t, BARE_WS), { permission: 'owner', workspace: { slug: 'acme', name: 'Acme' } });
    assert.deepEqual(
      t.sent.map((r) => `${r.method} ${r.path}`),
      [`GET /user/workspaces/${WS_SEGMENT}/permission`],
    );
  });

  it('is "none" for a non-member (403 or 404) and for a role it does not know', async () => {
    for (const status of [403, 404]) {
      assert.deepEqual(await getWorkspaceMembership(stub(() => json(status, errorBody('No'))), WS), { permission: 'none', workspace: null });
    }
    assert.equal((await getWorkspaceMembership(stub(() => json(200, { permission: 'emperor' })), WS)).permission, 'none');
  });

  it('throws the mapped error on any other failure, and lets a transport failure through as it is', async () => {
    const err = await getWorkspaceMembership(stub(() => json(502, 'Bad Gateway')), WS).catch((e: unknown) => e);
    assert.ok(err instanceof BitbucketError);
    assert.match(err.message, /while reading your role in this workspace/);
    await assert.rejects(getWorkspaceMembership(stub(() => json(200, 'not json')), WS), BitbucketMalformedResponseError);
    const consent = new Error('needs consent');
    await assert.rejects(
      getWorkspaceMembership(
        stub(() => {
          throw consent;
        }),
        WS,
      ),
      (e) => e === consent,
    );
  });
});

describe("a token's own role in the workspace", () => {
  it('is true for an owner, false for another role or 404, and null when the answer cannot tell', async () => {
    assert.equal(await tokenAdministersWorkspace(stub(() => json(200, { permission: 'owner' })), WS), true);
    assert.equal(await tokenAdministersWorkspace(stub(() => json(200, { permission: 'member' })), WS), false);
    assert.equal(await tokenAdministersWorkspace(stub(() => json(404, errorBody('No'))), WS), false);
    assert.equal(await tokenAdministersWorkspace(stub(() => json(403, errorBody('lack one or more required privilege scopes'))), WS), null);
    assert.equal(await tokenAdministersWorkspace(stub(() => json(200, '{')), WS), null);
    assert.equal(
      await tokenAdministersWorkspace(
        stub(() => {
          throw new Error('offline');
        }),
        WS,
      ),
      null,
    );
  });

  it('asks by slug for a workspace named by its slug, and asks nothing for a name that is neither', async () => {
    const t = stub(() => json(200, { permission: 'owner' }));
    assert.equal(await tokenAdministersWorkspace(t, 'acme'), true);
    assert.equal(t.sent.length, 1);
    assert.equal(await tokenAdministersWorkspace(t, 'acme/../other'), null);
    assert.equal(t.sent.length, 1);
  });
});
