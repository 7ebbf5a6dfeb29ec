// The workspace's repository list as the app keeps it: page loads within the list's freshness send no
// listing request as the app, an older list is read again, a read refused with 429 leaves the kept list
// on the page with its time, and what is kept stays far inside Forge's 240 KiB a value. And work that
// meets the app's own hour: a page shows what the app kept, a check waits, a job reads with the token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BitbucketNotFoundError, BitbucketRateLimitError, type BitbucketTransport } from '../../src/bitbucket/index';
import type { BitbucketApi } from '../../src/connect/index';
import { runHealthCheck } from '../../src/forge/health/check';
import { withAppReads } from '../../src/forge/platform/clients';
import { loadHealth } from '../../src/forge/store/health-records';
import { REPOSITORY_LIST_FRESH_MINUTES } from '../../src/forge/contract';
import { keys } from '../../src/forge/store/keys';
import { LISTING_RETRY_MS, PART_SIZE, workspaceRepositories } from '../../src/forge/store/repository-listing';
import { MemoryPlatform } from '../../dev/forge/memory-platform';
import { bb, PROJECTS, startHarness, valueOf, vh, type Harness, type SentRequest } from './support/forge-fixture';

const MINUTE = 60_000;
const RATE_LIMITED = 'Rate limit for this resource has been exceeded';
/** The listing's path below `/2.0`, as the transports see it: `/repositories/{workspace}?pagelen=...`. */
const isListing = (r: SentRequest) => r.via === 'app' && /^\/repositories\/[^/?]+\?/.test(r.path);
/** The same in the emulator's fault rules, which see `/2.0/...` without the query. */
const LISTING_FAULT = '^/2\\.0/repositories/[^/]+$';

describe("the workspace page's repository list", () => {
  let h: Harness;
  const sent: SentRequest[] = [];
  const listingRequests = () => sent.filter(isListing).length;

  before(async () => {
    h = await startHarness({ record: (r) => sent.push(r) });
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  });
  after(async () => {
    h.stack.bitbucket.faults.clear();
    await h?.close();
  });

  /** A load: what it answered, how many listing requests it sent as the app, and the backend's clock around it. */
  const load = async (payload: Record<string, unknown> = {}, who: 'admin' | 'writer' = 'admin') => {
    const before = listingRequests();
    const from = h.platform.clock.now().toISOString();
    const settings = valueOf(await h.call('getWorkspaceSettings', payload, h.context(who)));
    return { settings, listed: listingRequests() - before, from, to: h.platform.clock.now().toISOString() };
  };
  /** The moment was during the load. */
  const during = (at: string | null | undefined, load: { from: string; to: string }) => {
    assert.ok(at && at >= load.from && at <= load.to, `${at} is not between ${load.from} and ${load.to}`);
  };

  test('a nobody-kept list is read as the app and kept with its time; a second load within its freshness sends no listing request', async () => {
    const first = await load();
    assert.ok(first.listed > 0, 'the first load reads the list');
    assert.ok(first.settings.repositories.some((r) => r.fullName === 'acme/ml-models'));
    during(first.settings.repositoriesListedAt, first);
    assert.equal(first.settings.repositoriesProblem, null);

    h.advance((REPOSITORY_LIST_FRESH_MINUTES - 1) * MINUTE);
    const second = await load();
    assert.equal(second.listed, 0, 'no listing request as the app');
    assert.deepEqual(second.settings.repositories, first.settings.repositories);
    assert.equal(second.settings.repositoriesListedAt, first.settings.repositoriesListedAt, 'shown with the time it was read');
    // Another admin's load uses the same kept list: it is the workspace's, not the person's.
    assert.equal((await load()).listed, 0);
  });

  test('a member learns nothing of the list, and reading it for them costs nothing', async () => {
    const member = await load({}, 'writer');
    assert.deepEqual(member.settings.repositories, []);
    assert.equal(member.settings.repositoriesListedAt, null);
    assert.equal(member.listed, 0);
  });

  test('an older list is read again: a rename since shows', async () => {
    const ws = h.stack.bitbucket.state.findWorkspace('acme');
    const repo = ws && h.stack.bitbucket.state.findRepo(ws, 'datasets');
    assert.ok(repo);
    const was = repo.name;
    repo.name = 'Datasets (renamed)';
    try {
      h.advance(2 * MINUTE);
      const old = await load();
      assert.ok(old.listed > 0, 'read again once older than its freshness');
      assert.equal(old.settings.repositories.find((r) => r.fullName === 'acme/datasets')?.name, 'Datasets (renamed)');
      during(old.settings.repositoriesListedAt, old);
    } finally {
      repo.name = was;
    }
  });

  test('a read answered 429 leaves the kept list on the page with its time and why; the next loads do not ask again at once', async () => {
    h.advance(MINUTE);
    const kept = await load({ refreshRepositories: true });
    assert.ok(kept.listed > 0, 'Refresh list reads at once');
    const keptAt = kept.settings.repositoriesListedAt;
    h.advance((REPOSITORY_LIST_FRESH_MINUTES + 1) * MINUTE);
    h.stack.bitbucket.faults.add({ method: 'GET', path: LISTING_FAULT, status: 429, body: RATE_LIMITED });
    try {
      const limited = await load();
      assert.ok(limited.listed > 0, 'it tried');
      assert.deepEqual(limited.settings.repositories, kept.settings.repositories, 'the kept list, not an empty one');
      assert.equal(limited.settings.repositoriesListedAt, keptAt, 'with the time it was read');
      const problem = limited.settings.repositoriesProblem;
      assert.ok(problem);
      assert.equal(problem.code, 'rate-limited');
      during(problem.at, limited);
      assert.match(problem.fix, /try again/);

      // Every admin's load for a while after: the kept list and the same words, no request.
      h.advance(LISTING_RETRY_MS - MINUTE);
      const resting = await load();
      assert.equal(resting.listed, 0);
      assert.deepEqual(resting.settings.repositoriesProblem, problem);
      assert.equal(resting.settings.repositoriesListedAt, keptAt);
    } finally {
      h.stack.bitbucket.faults.clear();
    }
    // Once the limit clears, Refresh list reads it and the problem is gone.
    const cleared = await load({ refreshRepositories: true });
    assert.ok(cleared.listed > 0);
    assert.equal(cleared.settings.repositoriesProblem, null);
    during(cleared.settings.repositoriesListedAt, cleared);
    // A second click at once costs nothing.
    assert.equal((await load({ refreshRepositories: true })).listed, 0);
  });

  test('with nothing kept, a refused read still renders the page: no repositories, and why', async () => {
    const ws = h.workspaceId.replace(/[{}]/g, '');
    await h.platform.store.delete(keys.repositoryListing(ws));
    h.stack.bitbucket.faults.add({ method: 'GET', path: LISTING_FAULT, status: 429, body: RATE_LIMITED });
    try {
      const { settings } = await load();
      assert.deepEqual(settings.repositories, []);
      assert.equal(settings.repositoriesListedAt, null);
      assert.equal(settings.repositoriesProblem?.code, 'rate-limited');
      assert.equal(settings.bitbucket.configured, true, 'the rest of the page is there');
    } finally {
      h.stack.bitbucket.faults.clear();
    }
    assert.ok((await load({ refreshRepositories: true })).settings.repositories.length > 0);
  });

  test("a repository page whose repository read as the app is refused (429) shows the repository as the kept list has it", async () => {
    const { jobId } = valueOf(
      await h.call('startConnect', { projectId: PROJECTS.datasets.id, ref: 'main', keyType: 'ed25519', submodules: false }, h.context('admin', 'datasets')),
    );
    await h.platform.idle();
    assert.equal(valueOf(await h.call('getJob', { jobId }, h.context('admin', 'datasets'))).status, 'done');
    const live = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'datasets')));
    // Every repository read as the app (by UUID or by name) refused, its branch head too; the caller's permission is read as they are.
    h.stack.bitbucket.faults.add({ method: 'GET', path: '^/2\\.0/repositories/[^/]+/[^/]+(/refs/branches/[^/]+)?$', status: 429, body: RATE_LIMITED });
    try {
      const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'datasets')));
      assert.equal(page.state, 'connected');
      assert.deepEqual(page.repository, live.repository);
      assert.equal(page.connection?.bitbucketHead, null, "Bitbucket's head unknown, not guessed");
      assert.ok(h.platform.log.lines.some((l) => /kept listing stands in/.test(l.message)), 'the kept list stood in for the refused read');

      // With no list kept at all, the connection's record names the repository (its main branch unknown).
      await h.platform.store.delete(keys.repositoryListing(h.workspaceId.replace(/[{}]/g, '')));
      const fromRecord = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'datasets')));
      assert.equal(fromRecord.state, 'connected');
      assert.deepEqual(fromRecord.repository, { ...live.repository, mainBranch: null });
    } finally {
      h.stack.bitbucket.faults.clear();
    }
  });

  test("a check that Bitbucket answers 429 (here the app's head read) is left for the next check, not recorded as broken", async () => {
    const before = await loadHealth(h.platform.store, h.workspaceId, h.repoUuid('datasets'));
    h.stack.bitbucket.faults.add({ method: 'GET', path: '/refs/branches/', status: 429, body: RATE_LIMITED });
    try {
      const entry = await runHealthCheck(h.platform, h.workspaceId, h.repoUuid('datasets'), { trigger: 'schedule' });
      assert.equal(entry, undefined);
    } finally {
      h.stack.bitbucket.faults.clear();
    }
    assert.deepEqual(await loadHealth(h.platform.store, h.workspaceId, h.repoUuid('datasets')), before, 'nothing recorded: no "broken"');
    // The stand-in's fault refused the token's reads too (the harness's app reads with the admin's token), so the token's hour waits a while first.
    h.advance(20 * MINUTE);
    const next = await runHealthCheck(h.platform, h.workspaceId, h.repoUuid('datasets'), { trigger: 'schedule' });
    assert.equal(next?.health, 'healthy', JSON.stringify(next?.findings));
  });
});

describe("a job's reads as the app when the app's own hour refuses them", () => {
  const repo = { uuid: '{r}', slug: 'x', name: 'x', fullName: 'acme/x', workspace: 'acme', isPrivate: true, mainBranch: 'main', sshUrl: '', httpsUrl: '', htmlUrl: '' };
  const reader = (name: string, calls: string[], fail?: () => Error): BitbucketApi =>
    ({
      getRepository: async (workspace: string, slug: string) => {
        calls.push(`${name} ${workspace}/${slug}`);
        if (fail) throw fail();
        return repo;
      },
    }) as unknown as BitbucketApi;

  test('go with the stored token (which its ledger counts); any other refusal stands; other workspaces go with the token', async () => {
    const calls: string[] = [];
    const limited = () => new BitbucketRateLimitError("Bitbucket's rate limit was reached (429).", { status: 429, code: 'rate_limited', retryable: true });
    const api = withAppReads(reader('app', calls, limited), reader('token', calls), 'acme');
    assert.deepEqual(await api.getRepository('acme', 'x'), repo);
    assert.deepEqual(calls, ['app acme/x', 'token acme/x']);

    calls.length = 0;
    const missing = () => new BitbucketNotFoundError('No such repository (404).', { status: 404, code: 'not_found' });
    await assert.rejects(withAppReads(reader('app', calls, missing), reader('token', calls), 'acme').getRepository('acme', 'x'), BitbucketNotFoundError);
    assert.deepEqual(calls, ['app acme/x'], 'a 404 is an answer, not a limit');

    calls.length = 0;
    await withAppReads(reader('app', calls), reader('token', calls), 'acme').getRepository('umbrella', 'y');
    assert.deepEqual(calls, ['token umbrella/y']);
  });
});

/** A workspace of `count` repositories served as Bitbucket pages them, as the app's transport. */
function workspaceOf(count: number, name: (i: number) => string, slug: (i: number) => string): { transport: BitbucketTransport; requests: () => number } {
  let requests = 0;
  const ws = 'c0ffee00-0000-4000-8000-000000000001';
  const repo = (i: number) => ({
    type: 'repository',
    uuid: `{00000000-0000-4000-8000-${String(i).padStart(12, '0')}}`,
    slug: slug(i),
    name: name(i),
    full_name: `acme/${slug(i)}`,
    is_private: true,
    mainbranch: { name: 'main', type: 'branch' },
    workspace: { slug: 'acme', name: 'Acme Machine Learning', uuid: `{${ws}}` },
    links: {
      html: { href: `https://bitbucket.org/acme/${slug(i)}` },
      clone: [
        { name: 'https', href: `https://someone@bitbucket.org/acme/${slug(i)}.git` },
        { name: 'ssh', href: `git@bitbucket.org:acme/${slug(i)}.git` },
      ],
    },
  });
  const transport: BitbucketTransport = {
    request: async (req) => {
      requests += 1;
      const page = Number(new URL(req.path, 'https://api.bitbucket.org').searchParams.get('page') ?? '1');
      const values = Array.from({ length: Math.max(0, Math.min(100, count - (page - 1) * 100)) }, (_, k) => repo((page - 1) * 100 + k));
      const next = page * 100 < count ? `https://api.bitbucket.org/2.0/repositories/%7B${ws}%7D?pagelen=100&sort=slug&page=${page + 1}` : undefined;
      return { status: 200, headers: { 'content-type': 'application/json', 'x-ratelimit-limit': '1000', 'x-ratelimit-nearlimit': 'false', 'x-ratelimit-resource': 'api.repositories' }, text: JSON.stringify({ values, size: count, pagelen: 100, ...(next ? { next } : {}) }) };
    },
  };
  return { transport, requests: () => requests };
}

describe('what the app keeps of the list', () => {
  const WS = '{c0ffee00-0000-4000-8000-000000000001}';
  const platformFor = (transport: BitbucketTransport) =>
    new MemoryPlatform({ bitbucketAsApp: transport, bitbucketAsUser: () => transport, clock: { now: () => new Date('2026-12-07T12:00:00Z') } });
  const storedBytes = (platform: MemoryPlatform) =>
    [...platform.store.dump()].filter(([key]) => key.startsWith('replisting')).map(([key, json]) => ({ key, bytes: Buffer.byteLength(json, 'utf8') }));
  const LIMIT = 240 * 1024;

  test('500 repositories: kept in parts of 100, each value far under 240 KiB, with the requests it took and the rate-limit headers seen', async () => {
    const { transport, requests } = workspaceOf(500, (i) => `Training pipeline ${i} for the vision team`, (i) => `training-pipeline-${String(i).padStart(3, '0')}-vision`);
    const platform = platformFor(transport);
    const listing = await workspaceRepositories(platform, WS, { max: 500 });
    assert.equal(listing.repositories.length, 500);
    assert.equal(listing.truncated, false);
    assert.equal(requests(), 5);
    const values = storedBytes(platform);
    assert.equal(values.length, 1 + 500 / PART_SIZE, 'a head and five parts');
    const total = values.reduce((n, v) => n + v.bytes, 0);
    assert.ok(total < 100 * 1024, `all 500 together are ${total} bytes: even one value would hold them`);
    for (const v of values) assert.ok(v.bytes < LIMIT / 8, `${v.key} is ${v.bytes} bytes`);
    const head = await platform.store.get<{ requests: number; rateLimit: { limit: number; nearLimit: boolean; resource: string } }>(keys.repositoryListing(WS));
    assert.equal(head?.requests, 5);
    assert.deepEqual({ ...head?.rateLimit, at: undefined }, { at: undefined, limit: 1000, nearLimit: false, resource: 'api.repositories' });

    // Read back from storage, the same repositories as Bitbucket listed them.
    const kept = await workspaceRepositories(platform, WS, { max: 500 });
    assert.equal(requests(), 5, 'no request: the kept list is fresh');
    assert.deepEqual(kept.repositories, listing.repositories);
  });

  test('the longest names Bitbucket allows still leave a part of 100 under 240 KiB', async () => {
    // 255 characters of four-byte UTF-8 for each name, 62-character slugs: the worst a part can hold.
    const { transport } = workspaceOf(100, (i) => `${'\u{1F9EA}'.repeat(250)}${String(i).padStart(5, '0')}`, (i) => `${'x'.repeat(56)}-${String(i).padStart(5, '0')}`);
    const platform = platformFor(transport);
    await workspaceRepositories(platform, WS, { max: 500 });
    for (const v of storedBytes(platform)) assert.ok(v.bytes < LIMIT, `${v.key} is ${v.bytes} bytes`);
  });

  test('a read that replaces the kept one leaves no part of the old one behind, and a part gone makes the list read again', async () => {
    let now = Date.parse('2026-12-07T12:00:00Z');
    const { transport, requests } = workspaceOf(250, (i) => `Repo ${i}`, (i) => `repo-${i}`);
    const platform = new MemoryPlatform({ bitbucketAsApp: transport, bitbucketAsUser: () => transport, clock: { now: () => new Date(now) } });
    await workspaceRepositories(platform, WS, { max: 500 });
    now += (REPOSITORY_LIST_FRESH_MINUTES + 1) * MINUTE;
    await workspaceRepositories(platform, WS, { max: 500 });
    assert.equal(requests(), 6);
    assert.equal(storedBytes(platform).length, 1 + 3, 'one head, the three parts of the newest read');
    const part = storedBytes(platform).find((v) => v.key.startsWith('replistingpart'));
    assert.ok(part);
    await platform.store.delete(part.key);
    const again = await workspaceRepositories(platform, WS, { max: 500 });
    assert.equal(requests(), 9, 'an incomplete kept list is never shown: it is read again');
    assert.equal(again.repositories.length, 250);
  });

  test('a kept list that stopped short of what is asked for is read again for it', async () => {
    const { transport, requests } = workspaceOf(300, (i) => `Repo ${i}`, (i) => `repo-${String(i).padStart(3, '0')}`);
    const platform = platformFor(transport);
    const short = await workspaceRepositories(platform, WS, { max: 100 });
    assert.equal(short.truncated, true);
    assert.equal(requests(), 1);
    const whole = await workspaceRepositories(platform, WS, { max: 10_000 });
    assert.equal(whole.repositories.length, 300);
    assert.equal(requests(), 4);
    // The whole list covers a smaller ask.
    assert.equal((await workspaceRepositories(platform, WS, { max: 100 })).repositories.length, 300);
    assert.equal(requests(), 4);
  });
});
