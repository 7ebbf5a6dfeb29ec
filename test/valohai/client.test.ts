import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { InvalidPathSegmentError } from '../../src/http/path';
import { ValohaiClient } from '../../src/valohai/client';
import {
  ValohaiAuthError,
  ValohaiError,
  ValohaiNetworkError,
  ValohaiNotFoundError,
  ValohaiRateLimitError,
  ValohaiValidationError,
} from '../../src/valohai/errors';
import { startFakeValohai, VH_TOKEN, type FakeCommit, type FakeProject, type FakeValohai } from './fake-valohai';

const P1 = '0184a9b4-1111-4222-8333-444455556666';
const P2 = '0184a9b4-aaaa-4222-8333-444455556666';

function projects(): FakeProject[] {
  return [
    { id: P1, name: 'models', owner: 'acme', repository: { id: 41, url: 'git@bitbucket.org:acme/models.git', ref: 'main' } },
    { id: P2, name: 'models', owner: 'other', repository: null },
  ];
}

function commits(): FakeCommit[] {
  return [
    { identifier: 'c1'.padEnd(40, '1'), ref: 'main', ref_names: ['main'], commit_time: '2025-01-01T00:00:00Z', project: P1 },
    { identifier: 'c2'.padEnd(40, '2'), ref: 'main', ref_names: ['main', 'v2'], commit_time: '2025-02-01T00:00:00Z', project: P1 },
  ];
}

describe('ValohaiClient against an HTTP server', () => {
  let vh: FakeValohai;

  before(async () => {
    vh = await startFakeValohai(projects(), commits());
  });
  after(async () => {
    await vh.close();
  });
  beforeEach(() => {
    vh.faults.clear();
    vh.log.length = 0;
    vh.hang.length = 0;
    vh.projects.splice(0, vh.projects.length, ...projects());
    vh.commits.splice(0, vh.commits.length, ...commits());
    vh.ownership = ['acme', 'acme:ml-team'];
    vh.fetchReply = null;
  });

  describe('happy paths', () => {
    it('checks the token with users/me/, sending "Authorization: Token <token>"', async () => {
      const { client } = vh.client();
      assert.deepEqual(await client.me(), { id: 7, username: 'ada', email: 'ada@example.com' });
      assert.equal(vh.log[0]?.path, '/api/v0/users/me/');
      assert.equal(vh.log[0]?.authorization, `Token ${VH_TOKEN}`);
    });

    it('accepts a host with a trailing slash', async () => {
      const client = new ValohaiClient({ host: `${vh.host}/`, token: VH_TOKEN });
      assert.equal((await client.me()).username, 'ada');
      assert.equal(vh.log[0]?.path, '/api/v0/users/me/');
    });

    it('lists every project across pages', async () => {
      for (let i = 0; i < 230; i++) vh.projects.push({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `p${i}`, owner: 'acme', repository: null });
      const { client } = vh.client();
      const all = await client.listProjects();
      assert.equal(all.length, 232);
      assert.deepEqual(all[0], { id: P1, name: 'models', owner: 'acme', repository: { id: 41, url: 'git@bitbucket.org:acme/models.git', ref: 'main' } });
      assert.deepEqual(all[1], { id: P2, name: 'models', owner: 'other', repository: null });
      assert.deepEqual(vh.log.map((r) => r.path), ['/api/v0/projects/?limit=100', '/api/v0/projects/?limit=100&offset=100', '/api/v0/projects/?limit=100&offset=200']);
    });

    it('finds a project by id, by owner/name, and by a name only one project has', async () => {
      vh.projects.push({ id: '0184a9b4-bbbb-4222-8333-444455556666', name: 'unique', owner: 'acme', repository: null });
      const { client } = vh.client();
      assert.equal((await client.findProject(P2)).owner, 'other');
      assert.equal(vh.log[0]?.path, `/api/v0/projects/${P2}/`);
      assert.equal((await client.findProject('acme/models')).id, P1);
      assert.equal((await client.findProject('OTHER/models')).id, P2);
      assert.equal((await client.findProject('unique')).owner, 'acme');
    });

    it('refuses an ambiguous bare name, listing the candidates', async () => {
      const { client } = vh.client();
      const err = await client.findProject('models').catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiError);
      assert.equal(err.code, 'ambiguous');
      assert.match(err.message, /acme\/models/);
      assert.match(err.message, /other\/models/);
    });

    it('says how to list projects when none matches', async () => {
      const { client } = vh.client();
      for (const wanted of ['acme/nope', '0184a9b4-0000-4222-8333-444455556666']) {
        const err = await client.findProject(wanted).catch((e: unknown) => e);
        assert.ok(err instanceof ValohaiNotFoundError, String(err));
        assert.ok(err.message.includes(`"${wanted}"`));
        assert.match(err.message, /vh project list/);
        assert.ok(err.message.includes(`${vh.host}/api/v0/projects/`));
      }
    });

    it('reads ownership options, and none when the endpoint does not exist', async () => {
      const { client } = vh.client();
      assert.deepEqual(await client.ownershipOptions(), ['acme', 'acme:ml-team']);
      vh.ownership = null;
      assert.deepEqual(await client.ownershipOptions(), []);
    });

    it('creates a project', async () => {
      const { client } = vh.client();
      const p = await client.createProject({ name: 'new', owner: 'acme', description: 'from Bitbucket' });
      assert.equal(p.name, 'new');
      assert.equal(p.owner, 'acme');
      assert.deepEqual(JSON.parse(vh.log[0]?.body ?? ''), { name: 'new', owner: 'acme', description: 'from Bitbucket' });
    });

    it('sets the repository URL, ref and key with one PATCH of JSON, after the route\'s metadata said it takes them', async () => {
      const { client } = vh.client();
      const key = '-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n';
      assert.equal(await client.setRepository(41, { url: 'git@bitbucket.org:acme/models.git', ref: 'dev', sshPrivateKey: key }), undefined);
      // The preflight's OPTIONS comes first unless an earlier call on this host already passed it.
      const writes = vh.log.filter((r) => r.method !== 'OPTIONS');
      assert.ok(vh.log.every((r, i) => r.method !== 'OPTIONS' || i === 0), 'at most one OPTIONS, before the write');
      assert.equal(writes.length, 1);
      assert.equal(writes[0]?.method, 'PATCH');
      assert.equal(writes[0]?.path, '/api/v0/repositories/41/');
      assert.match(writes[0]?.contentType ?? '', /^application\/json/);
      assert.deepEqual(JSON.parse(writes[0]?.body ?? ''), { url: 'git@bitbucket.org:acme/models.git', ref: 'dev', ssh_private_key: key });
      assert.equal(vh.projects[0]?.repository?.ref, 'dev');
    });

    it('clears the repository key with an empty ssh_private_key', async () => {
      const { client } = vh.client();
      await client.clearRepositoryKey(41);
      assert.deepEqual(JSON.parse(vh.log[0]?.body ?? ''), { ssh_private_key: '' });
      assert.equal(vh.projects[0]?.repository?.ssh_private_key, '');
    });

    it('fetches: new commits, and errors reported with a 2xx', async () => {
      const { client } = vh.client();
      const ok = await client.fetchRepository(P1);
      assert.deepEqual(ok.errors, []);
      assert.deepEqual(ok.commits.map((c) => c.identifier), commits().map((c) => c.identifier));
      assert.equal(vh.log[0]?.path, `/api/v0/projects/${P1}/fetch/`);
      vh.fetchReply = { commits: [], errors: ['Permission denied (publickey).'] };
      assert.deepEqual(await client.fetchRepository(P1), { commits: [], errors: ['Permission denied (publickey).'] });
    });

    it('lists commits newest first with the documented query', async () => {
      const { client } = vh.client();
      const list = await client.listCommits(P1, 10);
      assert.deepEqual(list[0], { identifier: 'c2'.padEnd(40, '2'), ref: 'main', refNames: ['main', 'v2'], commitTime: '2025-02-01T00:00:00Z' });
      const url = new URL(`http://x${vh.log[0]?.path}`);
      assert.equal(url.pathname, '/api/v0/commits/');
      assert.deepEqual(Object.fromEntries(url.searchParams), { project: P1, ordering: '-commit_time', limit: '10' });
      await client.listCommits(P1);
      assert.equal(new URL(`http://x${vh.log[1]?.path}`).searchParams.get('limit'), '50');
    });

    it('refuses ids that would change the path, before any request', async () => {
      const { client } = vh.client();
      await assert.rejects(client.getProject('../users'), InvalidPathSegmentError);
      await assert.rejects(client.fetchRepository('a/b'), InvalidPathSegmentError);
      await assert.rejects(client.setRepository(0, { url: 'u', ref: 'r', sshPrivateKey: 'k' }), InvalidPathSegmentError);
      assert.equal(vh.log.length, 0);
    });

    it('refuses a host that is not an http(s) URL, saying how to write it', () => {
      assert.throws(() => new ValohaiClient({ host: 'app.valohai.com', token: 't' }), /https:\/\/app\.valohai\.com/);
      assert.throws(() => new ValohaiClient({ host: 'ftp://x', token: 't' }), /https:\/\//);
    });
  });

  describe('error shapes', () => {
    it('401 {"detail"}: ValohaiAuthError pointing at <host>/auth/tokens/', async () => {
      const { client } = vh.client({ token: 'wrong' });
      const err = await client.me().catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiAuthError);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'authentication_failed');
      assert.equal(err.valohaiMessage, 'Invalid token.');
      assert.ok(err.message.includes(`${vh.host}/auth/tokens/`));
      assert.equal(vh.log.length, 1);
    });

    it('403: ValohaiAuthError saying the token\'s user lacks access', async () => {
      vh.faults.add({ path: '/fetch/', status: 403, body: { detail: 'You do not have permission to perform this action.', code: 'permission_denied' } });
      const { client } = vh.client();
      const err = await client.fetchRepository(P1).catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiAuthError);
      assert.equal(err.status, 403);
      assert.match(err.message, /You do not have permission/);
      assert.match(err.message, /access to the project/);
    });

    it('400 {"non_field_errors"}: ValohaiValidationError with the message', async () => {
      const { client } = vh.client();
      const err = await client.createProject({ name: 'models', owner: 'acme' }).catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiValidationError);
      assert.deepEqual(err.fields, { non_field_errors: ['A project with this name already exists for this owner.'] });
      assert.match(err.message, /already exists/);
    });

    it('400 {field: ["msg" | {message, code}]}: field messages, nested fields flattened', async () => {
      vh.faults.add({
        path: '/repositories/',
        status: 400,
        body: { url: ['Enter a valid URL.'], ref: [{ message: 'Unknown ref.', code: 'invalid' }], repository: { ssh: ['bad'] } },
      });
      const { client } = vh.client();
      const err = await client.setRepository(41, { url: 'nope', ref: 'x', sshPrivateKey: 'k'.repeat(20) }).catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiValidationError);
      assert.deepEqual(err.fields, { url: ['Enter a valid URL.'], ref: ['Unknown ref.'], 'repository.ssh': ['bad'] });
      assert.match(err.message, /url: Enter a valid URL\.; ref: Unknown ref\./);
      assert.match(err.message, /Check the SSH URL/);
    });

    it('404 {"detail"}: ValohaiNotFoundError', async () => {
      const { client } = vh.client();
      const err = await client.setRepository(999, { url: 'u', ref: 'r', sshPrivateKey: 'k'.repeat(20) }).catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiNotFoundError);
      assert.match(err.message, /no repository 999/);
    });

    it('HTML 500: a short message naming Valohai\'s side, after retries', async () => {
      vh.faults.add({ path: '/users/me/', status: 500, body: '<!DOCTYPE html><html><head><title>Server Error (500)</title></head><body><h1>Server Error</h1></body></html>' });
      const { client, retries } = vh.client();
      const err = await client.me().catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiError);
      assert.equal(err.status, 500);
      assert.equal(err.code, 'server_error');
      assert.match(err.message, /Server Error \(500\)/);
      assert.doesNotMatch(err.message, /<h1>/);
      assert.equal(retries.length, 4);
      assert.equal(vh.log.length, 5);
    });

    it('a redirect is reported, not followed with the token', async () => {
      vh.faults.add({ path: '/users/me/', status: 301, headers: { location: 'https://elsewhere.example/api/v0/users/me/' }, body: '' });
      const { client } = vh.client();
      const err = await client.me().catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiError);
      assert.equal(err.code, 'redirect');
      assert.match(err.message, /elsewhere\.example/);
      assert.equal(vh.log.length, 1);
    });
  });

  describe('retries', () => {
    it('429: retried honouring Retry-After; if it persists, ValohaiRateLimitError', async () => {
      vh.faults.add({ path: '/commits/', times: 1, status: 429, headers: { 'retry-after': '3' }, body: { detail: 'Request was throttled.' } });
      const { client, retries } = vh.client();
      assert.equal((await client.listCommits(P1)).length, 2);
      assert.deepEqual(retries.map((r) => r.delayMs), [3000]);
      vh.faults.add({ path: '/commits/', status: 429, body: { detail: 'Request was throttled.' } });
      const err = await client.listCommits(P1).catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiRateLimitError);
      assert.match(err.message, /[Ww]ait/);
    });

    it('500 then success on the fetch POST and on PATCH: both repeated', async () => {
      vh.faults.add({ path: '/fetch/', times: 1, status: 500, body: 'oops' });
      vh.faults.add({ path: '/repositories/', times: 1, status: 503, body: 'busy' });
      const { client, retries } = vh.client();
      assert.deepEqual((await client.fetchRepository(P1)).errors, []);
      await client.setRepository(41, { url: 'git@bitbucket.org:acme/models.git', ref: 'main', sshPrivateKey: 'k'.repeat(20) });
      assert.equal(retries.length, 2);
      assert.deepEqual(vh.log.map((r) => r.method), ['POST', 'POST', 'PATCH', 'PATCH']);
    });

    it('a reset connection is retried', async () => {
      vh.faults.add({ path: '/users/me/', times: 2, reset: true });
      const { client, retries } = vh.client();
      assert.equal((await client.me()).username, 'ada');
      assert.equal(retries.length, 2);
      assert.ok(retries.every((r) => r.error instanceof ValohaiNetworkError && r.error.networkCode === 'ECONNRESET'));
    });

    it('malformed JSON on a 2xx read is retried; if it persists it is a malformed-response error', async () => {
      vh.faults.add({ path: '/projects/', times: 1, malformed: true });
      const { client } = vh.client();
      assert.equal((await client.listProjects()).length, 2);
      vh.faults.add({ path: '/users/me/', malformed: true });
      const err = await client.me().catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiError);
      assert.equal(err.code, 'malformed_response');
      assert.equal(vh.log.filter((r) => r.path === '/api/v0/users/me/').length, 5);
    });

    for (const status of [400, 401, 403, 404, 422]) {
      it(`never retries ${status}`, async () => {
        vh.faults.add({ path: '/commits/', status, body: { detail: `status ${status}` } });
        const { client, retries } = vh.client();
        const err = await client.listCommits(P1).catch((e: unknown) => e);
        assert.ok(err instanceof ValohaiError);
        assert.equal(err.status, status);
        assert.equal(retries.length, 0);
        assert.equal(vh.log.length, 1);
      });
    }

    it('creating a project is not repeated after a 500 or a reset (it may have been created)', async () => {
      const { client } = vh.client();
      vh.faults.add({ method: 'POST', path: '/projects/$', times: 1, status: 500, body: 'oops' });
      const err = await client.createProject({ name: 'n1', owner: 'acme' }).catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiError);
      assert.equal(err.status, 500);
      vh.faults.add({ method: 'POST', path: '/projects/$', times: 1, reset: true });
      await assert.rejects(client.createProject({ name: 'n2', owner: 'acme' }), ValohaiNetworkError);
      assert.equal(vh.log.length, 2);
    });

    it('creating a project is repeated after a 429 (it was not processed)', async () => {
      vh.faults.add({ method: 'POST', path: '/projects/$', times: 1, status: 429, body: { detail: 'Request was throttled.' } });
      const { client } = vh.client();
      assert.equal((await client.createProject({ name: 'n3', owner: 'acme' })).name, 'n3');
      assert.equal(vh.log.length, 2);
    });

    it('a refused connection becomes ValohaiNetworkError ECONNREFUSED', async () => {
      const other = await startFakeValohai([]);
      const { client, retries } = other.client({ maxAttempts: 2 });
      await other.close();
      const err = await client.me().catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiNetworkError, String(err));
      assert.equal(err.networkCode, 'ECONNREFUSED');
      assert.match(err.message, /Could not reach Valohai/);
      assert.equal(retries.length, 1);
    });

    it('no answer in time becomes ValohaiNetworkError ETIMEDOUT, retried', async () => {
      vh.hang.push(/users\/me/);
      const { client, retries } = vh.client({ maxAttempts: 2, timeoutMs: 50 });
      const err = await client.me().catch((e: unknown) => e);
      assert.ok(err instanceof ValohaiNetworkError, String(err));
      assert.equal(err.networkCode, 'ETIMEDOUT');
      assert.equal(retries.length, 1);
    });
  });
});
