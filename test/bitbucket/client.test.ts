import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  AccessKeyAlreadyPresentError,
  BitbucketAuthError,
  BitbucketBadRequestError,
  BitbucketError,
  BitbucketForbiddenError,
  BitbucketMalformedResponseError,
  BitbucketNetworkError,
  BitbucketNotFoundError,
  BitbucketRateLimitError,
  BitbucketRetiredApiError,
  bitbucketMessageOf,
} from '../../src/bitbucket/errors';
import { InvalidPathSegmentError } from '../../src/http/path';
import { BASIC, errorBody, startFakeBitbucket, TOKEN, type FakeBitbucket, type FakeRepo } from './fake-bitbucket';

const SHA_MAIN = 'a'.repeat(40);
const SHA_FEATURE = 'b'.repeat(40);
const REPO_UUID = '{11111111-2222-4333-8444-555555555555}';

/** A well-formed ssh-ed25519 authorized_keys line with random key bytes. */
function publicKeyLine(comment = 'valohai@test'): { line: string; body: string } {
  const part = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const body = Buffer.concat([part(Buffer.from('ssh-ed25519')), part(randomBytes(32))]).toString('base64');
  return { line: `ssh-ed25519 ${body} ${comment}`, body };
}

function repos(): FakeRepo[] {
  return [
    {
      workspace: 'acme',
      slug: 'models',
      uuid: REPO_UUID,
      name: 'Models',
      sshHref: 'ssh://git@bitbucket.org/acme/models.git',
      branches: { main: SHA_MAIN, 'feature/new-data': SHA_FEATURE },
      files: { [SHA_MAIN]: { '.gitmodules': '[submodule "data"]\n\tpath = data\n\turl = ../data.git\n', 'docs/read me.md': 'hello' } },
      keys: [],
      permission: 'admin',
    },
    { workspace: 'acme', slug: 'empty', uuid: '{99999999-2222-4333-8444-555555555555}', mainBranch: null, branches: {}, files: {}, keys: [], permission: 'read' },
  ];
}

/** No trace of the credentials (or `extra` secrets) anywhere a thrown error could be printed. */
function assertNoSecrets(err: unknown, extra: string[] = []): void {
  assert.ok(err instanceof Error);
  const views = [err.message, err.stack ?? '', JSON.stringify(err), inspect(err, { showHidden: true, depth: Infinity })];
  for (const secret of [TOKEN, BASIC, BASIC.slice(6), ...extra]) {
    for (const view of views) assert.ok(!view.includes(secret), `secret leaked into: ${view.slice(0, 200)}`);
  }
}

describe('BitbucketClient against an HTTP server', () => {
  let bb: FakeBitbucket;

  before(async () => {
    bb = await startFakeBitbucket(repos());
  });
  after(async () => {
    await bb.close();
  });
  beforeEach(() => {
    bb.faults.clear();
    bb.log.length = 0;
    bb.applyThenFail.count = 0;
    bb.repos.splice(0, bb.repos.length, ...repos());
  });

  describe('reads', () => {
    it('reads a repository, giving the scp-style SSH URL Valohai wants', async () => {
      const { client } = bb.client();
      const repo = await client.getRepository('acme', 'models');
      assert.deepEqual(repo, {
        uuid: REPO_UUID,
        slug: 'models',
        name: 'Models',
        fullName: 'acme/models',
        workspace: 'acme',
        isPrivate: true,
        mainBranch: 'main',
        sshUrl: 'git@bitbucket.org:acme/models.git',
        httpsUrl: 'https://bitbucket.org/acme/models.git',
        htmlUrl: 'https://bitbucket.org/acme/models',
      });
      assert.equal(bb.log[0]?.authorization, BASIC);
    });

    it('reads a repository by its {uuid} and reports an empty repository as having no main branch', async () => {
      const { client } = bb.client();
      const byUuid = await client.getRepository('acme', REPO_UUID);
      assert.equal(byUuid.slug, 'models');
      assert.equal(bb.log[0]?.path, '/2.0/repositories/acme/%7B11111111-2222-4333-8444-555555555555%7D');
      assert.equal((await client.getRepository('acme', 'empty')).mainBranch, null);
    });

    it('resolves branch heads, including branch names with a slash', async () => {
      const { client } = bb.client();
      assert.equal(await client.getBranchHead('acme', 'models', 'main'), SHA_MAIN);
      assert.equal(await client.getBranchHead('acme', 'models', 'feature/new-data'), SHA_FEATURE);
      assert.equal(bb.log[1]?.path, '/2.0/repositories/acme/models/refs/branches/feature%2Fnew-data');
    });

    it('falls back to a filtered branch list when a slashed name 404s on the direct path', async () => {
      bb.faults.add({ method: 'GET', path: 'refs/branches/feature%2F', status: 404, body: errorBody('Not found') });
      const { client } = bb.client();
      assert.equal(await client.getBranchHead('acme', 'models', 'feature/new-data'), SHA_FEATURE);
      const q = new URL(`http://x${bb.log[1]?.path}`).searchParams.get('q');
      assert.equal(q, 'name="feature/new-data"');
    });

    it('says a missing branch does not exist and to check the ref', async () => {
      const { client } = bb.client();
      const err = await client.getBranchHead('acme', 'models', 'mian').catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketNotFoundError);
      assert.match(err.message, /Branch "mian" does not exist in acme\/models/);
      assert.match(err.message, /Check the ref/);
      assert.equal(bb.log.length, 1, 'a 404 is not retried');
    });

    it('reads a file at a commit, and gives undefined for a missing file', async () => {
      const { client } = bb.client();
      assert.match((await client.getFileAtCommit('acme', 'models', SHA_MAIN, '.gitmodules')) ?? '', /url = \.\.\/data\.git/);
      assert.equal(await client.getFileAtCommit('acme', 'models', SHA_MAIN, 'docs/read me.md'), 'hello');
      assert.equal(bb.log[1]?.path, `/2.0/repositories/acme/models/src/${SHA_MAIN}/docs/read%20me.md`);
      assert.equal(await client.getFileAtCommit('acme', 'models', SHA_MAIN, 'nope.txt'), undefined);
    });

    it('lists every access key across pages, 100 per page', async () => {
      const repo = bb.repos[0] as FakeRepo;
      for (let i = 1; i <= 230; i++) {
        repo.keys.push({
          id: i,
          key: publicKeyLine().line.split(' ').slice(0, 2).join(' '),
          label: `key ${i}`,
          ...(i % 2 ? { created_on: '2024-05-01T00:00:00Z' } : { added_on: '2024-06-01T00:00:00Z' }),
          last_used: i === 1 ? '2025-01-01T00:00:00Z' : null,
        });
      }
      const { client } = bb.client();
      const keys = await client.listAccessKeys('acme', 'models');
      assert.equal(keys.length, 230);
      assert.deepEqual(keys.map((k) => k.id), repo.keys.map((k) => k.id));
      assert.equal(keys[0]?.createdOn, '2024-05-01T00:00:00Z');
      assert.equal(keys[1]?.createdOn, '2024-06-01T00:00:00Z');
      assert.equal(keys[0]?.lastUsed, '2025-01-01T00:00:00Z');
      assert.equal(keys[1]?.lastUsed, null);
      assert.equal(keys[0]?.repository, 'acme/models');
      assert.deepEqual(bb.log.map((r) => new URL(`http://x${r.path}`).searchParams.get('page')), [null, '2', '3']);
      assert.ok(bb.log.every((r) => r.path.includes('pagelen=100')));
    });

    it('reads the caller\'s permission on a repository by uuid, and "none" when not listed', async () => {
      const { client } = bb.client();
      assert.equal(await client.getRepositoryPermission('acme', REPO_UUID), 'admin');
      assert.equal(await client.getRepositoryPermission('acme', '99999999-2222-4333-8444-555555555555'), 'read');
      assert.equal(await client.getRepositoryPermission('acme', '{00000000-2222-4333-8444-555555555555}'), 'none');
      const first = new URL(`http://x${bb.log[0]?.path}`);
      assert.equal(first.pathname, '/2.0/user/workspaces/acme/permissions/repositories');
      assert.equal(first.searchParams.get('q'), `repository.uuid="${REPO_UUID}"`);
    });

    it('reads the current user', async () => {
      const { client } = bb.client();
      assert.deepEqual(await client.getCurrentUser(), { accountId: '557058:abc', displayName: 'Ada Admin', nickname: 'ada' });
    });
  });

  describe('access keys', () => {
    it('adds a key with its label as JSON and returns it with the comment split off', async () => {
      const { line, body } = publicKeyLine('valohai-bitbucket');
      const { client } = bb.client();
      const added = await client.addAccessKey('acme', 'models', { key: line, label: 'Valohai abc123' });
      assert.equal(added.key, `ssh-ed25519 ${body}`);
      assert.equal(added.label, 'Valohai abc123');
      assert.equal(added.comment, 'valohai-bitbucket');
      assert.equal(added.createdOn, '2025-01-02T03:04:05.000000+00:00');
      assert.equal(bb.log[0]?.contentType, 'application/json');
      assert.deepEqual(JSON.parse(bb.log[0]?.body ?? ''), { key: line, label: 'Valohai abc123' });
    });

    it('reports a key that is already there as AccessKeyAlreadyPresentError, without retrying', async () => {
      const { line } = publicKeyLine();
      const { client } = bb.client();
      await client.addAccessKey('acme', 'models', { key: line, label: 'a' });
      const err = await client.addAccessKey('acme', 'models', { key: line, label: 'a' }).catch((e: unknown) => e);
      assert.ok(err instanceof AccessKeyAlreadyPresentError);
      assert.equal(err.status, 400);
      assert.equal(bb.log.length, 2);
    });

    it('treats a repeat after a lost answer as "already present": the key is added once', async () => {
      const { line } = publicKeyLine();
      bb.applyThenFail.count = 1;
      const { client, retries } = bb.client();
      const err = await client.addAccessKey('acme', 'models', { key: line, label: 'a' }).catch((e: unknown) => e);
      assert.ok(err instanceof AccessKeyAlreadyPresentError, String(err));
      assert.equal(retries.length, 1);
      assert.equal((bb.repos[0] as FakeRepo).keys.length, 1);
    });

    it('passes on Bitbucket\'s reason for an invalid key without quoting the key', async () => {
      const key = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${'x'.repeat(40)}!!`;
      const { client } = bb.client();
      const err = await client.addAccessKey('acme', 'models', { key, label: 'a' }).catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketBadRequestError);
      assert.match(err.message, /Invalid SSH key/);
      assert.match(err.bitbucketMessage ?? '', /Invalid SSH key/);
      assertNoSecrets(err, [`AAAAC3NzaC1lZDI1NTE5AAAAI${'x'.repeat(40)}`]);
      assert.equal(bb.log.length, 1);
    });

    it('deletes a key, and reports an already-gone key as absent', async () => {
      (bb.repos[0] as FakeRepo).keys.push({ id: 7, key: 'ssh-ed25519 AAAA', label: 'x', last_used: null });
      const { client } = bb.client();
      assert.equal(await client.deleteAccessKey('acme', 'models', 7), 'deleted');
      assert.equal(await client.deleteAccessKey('acme', 'models', 7), 'absent');
      assert.deepEqual(bb.log.map((r) => `${r.method} ${r.path}`), [
        'DELETE /2.0/repositories/acme/models/deploy-keys/7',
        'DELETE /2.0/repositories/acme/models/deploy-keys/7',
      ]);
    });
  });

  describe('errors', () => {
    it('401: says the email/API token pair is wrong and where to create a token', async () => {
      const { client } = bb.client({ apiToken: 'wrong-token' });
      const err = await client.getRepository('acme', 'models').catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketAuthError);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'unauthorized');
      assert.match(err.message, /email and API token/);
      assert.match(err.message, /https:\/\/id\.atlassian\.com\/manage-profile\/security\/api-tokens/);
      assert.ok(!err.message.includes('wrong-token'));
      assert.equal(bb.log.length, 1, '401 is not retried');
    });

    it('403: names the repository and the scopes the token needs', async () => {
      bb.faults.add({ path: '/deploy-keys', status: 403, body: errorBody('Access denied', 'You must be an admin') });
      const { client } = bb.client();
      const err = await client.listAccessKeys('acme', 'models').catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketForbiddenError);
      assert.equal(err.code, 'forbidden');
      assert.match(err.message, /acme\/models/);
      for (const scope of ['admin:repository:bitbucket', 'write:ssh-key:bitbucket', 'delete:ssh-key:bitbucket', 'read:repository:bitbucket']) {
        assert.ok(err.message.includes(scope), scope);
      }
      // `detail` is never quoted: it is where servers echo what they were sent.
      assert.equal(err.bitbucketMessage, 'Access denied');
      assert.equal(bb.log.length, 1);
    });

    it('403 for the wrong credential kind: says access tokens cannot manage access keys', async () => {
      bb.faults.add({ path: '/deploy-keys', status: 403, body: errorBody('This API is not accessible by this authentication mechanism') });
      const { client } = bb.client();
      const err = await client.addAccessKey('acme', 'models', { key: publicKeyLine().line, label: 'a' }).catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketForbiddenError);
      assert.equal(err.code, 'wrong_auth_mechanism');
      assert.match(err.message, /access tokens cannot manage access keys/);
      assert.match(err.message, /API token/);
    });

    it('404: a repository you cannot see or that does not exist, naming it and the fix', async () => {
      bb.faults.add({
        path: '/repositories/acme/hidden$',
        status: 404,
        body: errorBody('You may not have access to this repository or it no longer exists in this workspace. If you think this repository exists and you have access, make sure you are authenticated.'),
      });
      const { client } = bb.client();
      for (const slug of ['nope', 'hidden']) {
        const err = await client.getRepository('acme', slug).catch((e: unknown) => e);
        assert.ok(err instanceof BitbucketNotFoundError);
        assert.match(err.message, new RegExp(`^acme/${slug} is a Bitbucket repository you cannot see or that does not exist \\(404 while reading repository acme/${slug}\\)`));
        assert.match(err.message, /Check the workspace and repository name/);
        assert.match(err.message, new RegExp(`ask an admin of acme/${slug} for access, or check that the API token belongs to the account that has it\\.$`));
      }
      assert.equal(bb.log.length, 2, 'one request each: a 404 is not retried');
    });

    it('410: Bitbucket retired an API this app uses; update the app; never retried', async () => {
      bb.faults.add({
        path: '/deploy-keys',
        status: 410,
        body: {
          type: 'error',
          error: {
            message: 'CHANGE-2770 - Functionality has been deprecated',
            detail: 'Please read the changelog entry for more details.',
            data: { announcement_url: 'https://developer.atlassian.com/cloud/bitbucket/changelog/#CHANGE-2770' },
          },
        },
      });
      const { client, retries } = bb.client();
      const err = await client.listAccessKeys('acme', 'models').catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketRetiredApiError);
      assert.equal(err.code, 'retired_api');
      assert.equal(err.retryable, false);
      assert.match(err.message, /^Bitbucket retired an API this app uses \(410 while listing the access keys of acme\/models\): update the app/);
      assert.match(err.message, /CHANGE-2770/);
      assert.equal(bb.log.length, 1);
      assert.equal(retries.length, 0);
    });

    it('400 on an add for a key that is an account SSH key: says so, and to use a key made for the connection', async () => {
      bb.faults.add({ path: '/deploy-keys', method: 'POST', status: 400, body: { key: [{ message: 'Someone has already registered that SSH key.' }] } });
      const err = await bb.client().client.addAccessKey('acme', 'models', { key: publicKeyLine().line, label: 'a' }).catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketBadRequestError);
      assert.equal(err.code, 'account_key');
      assert.equal(err.bitbucketMessage, 'Someone has already registered that SSH key.');
      assert.match(err.message, /already the SSH key of a Bitbucket account/);
      assert.match(err.message, /Use a new key made only for this connection/);
    });

    for (const status of [400, 401, 403, 404, 410, 422]) {
      it(`never retries ${status}`, async () => {
        bb.faults.add({ path: '/repositories/acme/models$', status, body: errorBody(`status ${status}`) });
        const { client, retries } = bb.client();
        const err = await client.getRepository('acme', 'models').catch((e: unknown) => e);
        assert.ok(err instanceof BitbucketError);
        assert.equal(err.status, status);
        assert.equal(bb.log.length, 1);
        assert.equal(retries.length, 0);
      });
    }

    it('429: retries, honouring Retry-After, then succeeds', async () => {
      bb.faults.add({ path: '/repositories/acme/models$', times: 2, status: 429, headers: { 'retry-after': '2' }, body: 'Rate limit for this resource has been exceeded' });
      const { client, retries } = bb.client();
      assert.equal((await client.getRepository('acme', 'models')).slug, 'models');
      assert.equal(bb.log.length, 3);
      assert.deepEqual(retries.map((r) => r.delayMs), [2000, 2000]);
    });

    it('429 that does not clear: BitbucketRateLimitError stating the hourly limit and to wait', async () => {
      bb.faults.add({ path: '/deploy-keys', status: 429, body: errorBody('Rate limit for this resource has been exceeded') });
      const { client } = bb.client({ maxAttempts: 4 });
      const err = await client.listAccessKeys('acme', 'models').catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketRateLimitError);
      assert.match(err.message, /per hour/);
      assert.match(err.message, /[Ww]ait/);
      assert.equal(bb.log.length, 2, 'a 429 without Retry-After is asked again once, not until the attempts run out');
    });

    it("429 as Bitbucket sends it to an API token (text/plain, no Retry-After): retried once, quickly; a burst that cleared goes on", async () => {
      bb.faults.add({ path: '/repositories/acme/models$', times: 1, status: 429, body: 'Rate limit for this resource has been exceeded.' });
      const { client, retries } = bb.client({ maxAttempts: 5 });
      assert.equal((await client.getRepository('acme', 'models')).slug, 'models');
      assert.equal(bb.log.length, 2);
      assert.equal(retries.length, 1);
      assert.ok((retries[0]?.delayMs ?? Infinity) < 1000, 'the one retry is quick');
    });

    it('429 without Retry-After, again on the retry: two requests in all, however many attempts the policy allows', async () => {
      bb.faults.add({ path: '/repositories/acme/models$', times: 3, status: 429, body: 'Rate limit for this resource has been exceeded.' });
      const { client, retries } = bb.client({ maxAttempts: 10 });
      const err = await client.getRepository('acme', 'models').catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketRateLimitError);
      assert.equal(bb.log.length, 2);
      assert.equal(retries.length, 1);
      // Each call has its own one retry: the next call asks once more, then stops again.
      const again = await client.getRepository('acme', 'models').catch((e: unknown) => e);
      assert.equal((again as { slug?: string }).slug, 'models', 'the third 429 was the last the fault gave');
      assert.equal(bb.log.length, 4);
    });

    it('500/502/503/504: retried, then the answer is used', async () => {
      // each rule answers once; the next call falls through to the next rule
      for (const status of [500, 502, 503, 504]) bb.faults.add({ path: '/refs/branches/main$', times: 1, status, body: 'oops' });
      const { client, retries } = bb.client();
      assert.equal(await client.getBranchHead('acme', 'models', 'main'), SHA_MAIN);
      assert.equal(retries.length, 4);
    });

    it('5xx that persists: says it is a problem at Bitbucket, quoting an HTML page by its title', async () => {
      bb.faults.add({ path: '/repositories/acme/models$', status: 502, body: '<html><head><title>502 Bad Gateway</title></head><body>...</body></html>' });
      const { client } = bb.client();
      const err = await client.getRepository('acme', 'models').catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketError);
      assert.equal(err.code, 'server_error');
      assert.match(err.message, /502 Bad Gateway/);
      assert.doesNotMatch(err.message, /<html>/);
      assert.equal(bb.log.length, 5);
    });

    it('a reset connection is retried; one that keeps resetting is a BitbucketNetworkError', async () => {
      bb.faults.add({ path: '/repositories/acme/models$', times: 1, reset: true });
      const { client } = bb.client();
      assert.equal((await client.getRepository('acme', 'models')).slug, 'models');
      bb.faults.clear();
      bb.faults.add({ path: '/deploy-keys', reset: true });
      const err = await client.addAccessKey('acme', 'models', { key: publicKeyLine().line, label: 'a' }).catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketNetworkError, String(err));
      assert.equal(err.networkCode, 'ECONNRESET');
      assert.match(err.message, /Could not reach Bitbucket/);
      assertNoSecrets(err);
    });

    it('malformed JSON on a 2xx read is retried; if it persists, BitbucketMalformedResponseError', async () => {
      bb.faults.add({ path: '/repositories/acme/models$', times: 1, malformed: true });
      const { client } = bb.client();
      assert.equal((await client.getRepository('acme', 'models')).slug, 'models');
      bb.faults.clear();
      bb.faults.add({ path: '/deploy-keys', malformed: true });
      const err = await client.listAccessKeys('acme', 'models').catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketMalformedResponseError);
      assert.equal(bb.log.filter((r) => r.path.includes('deploy-keys')).length, 5);
    });

    it('refuses workspace, repository and commit values that would change the path, before any request', async () => {
      const { client } = bb.client();
      for (const call of [
        () => client.getRepository('acme/../other', 'models'),
        () => client.getRepository('acme', 'models?x=1'),
        () => client.listAccessKeys('acme', 'models#frag'),
        () => client.getFileAtCommit('acme', 'models', 'main/..', '.gitmodules'),
        () => client.getFileAtCommit('acme', 'models', SHA_MAIN, '../secret'),
        () => client.deleteAccessKey('acme', 'models', -1),
        () => client.getRepositoryPermission('acme', 'not-a-uuid"'),
      ]) {
        await assert.rejects(call(), InvalidPathSegmentError);
      }
      assert.equal(bb.log.length, 0);
    });

    it("quotes Bitbucket's words only when they are short plain text, never detail, and known ones in our words", async () => {
      const quoted = async (body: unknown) => {
        bb.faults.clear();
        bb.faults.add({ path: '/repositories/acme/models$', status: 403, body });
        const err = await bb.client().client.getRepository('acme', 'models').catch((e: unknown) => e);
        assert.ok(err instanceof BitbucketError);
        return err.bitbucketMessage;
      };
      const tokenLike = `ATATT3x${randomBytes(24).toString('base64url')}`;
      assert.equal(await quoted(errorBody('Access denied', `for ${tokenLike}`)), 'Access denied');
      assert.equal(await quoted(errorBody(`Token ${tokenLike} is not allowed`)), undefined);
      assert.equal(await quoted(errorBody('Authorization: Basic dXNlcjpwYXNz')), undefined);
      assert.equal(await quoted(errorBody('Denied\x1b]0;title\x07')), undefined);
      assert.equal(await quoted(errorBody('line one\nline two')), undefined);
      assert.equal(await quoted(errorBody('Access denied. '.repeat(20))), undefined);
      assert.equal(await quoted(`<html><title>Forbidden for ${tokenLike}</title></html>`), undefined);
      assert.equal(
        await quoted(errorBody(`Your credentials lack one or more required privilege scopes (token ${tokenLike}).`)),
        'The credentials lack one or more required privilege scopes.',
      );
    });

    it("reads Bitbucket's words from each envelope it uses: error.message, error.fields, bare field lists, plain text", () => {
      const cases: [unknown, string | undefined][] = [
        [{ type: 'error', error: { message: 'Repository is read-only' } }, 'Repository is read-only'],
        [{ type: 'error', error: { message: 'Bad request', fields: { key: ['Invalid SSH key'] } } }, 'key: Invalid SSH key'],
        [{ type: 'error', error: { message: 'Bad request', fields: { label: [{ message: 'Too long' }] } } }, 'label: Too long'],
        [{ type: 'error', error: { message: 'Key problem', fields: { key: ['Invalid SSH key'] } } }, 'Key problem'],
        [{ type: 'error', error: { message: 'Bad request' } }, 'Bad request'],
        [{ key: [{ message: 'Invalid SSH key' }] }, 'key: Invalid SSH key'],
        [{ key: ['Invalid SSH key'] }, 'key: Invalid SSH key'],
        [{ key: [{ message: 'Someone has already added that access key to this repository.' }] }, 'Someone has already added that access key to this repository.'],
        [{ key: [{ message: `Token ATATT3x${'a'.repeat(30)}` }] }, undefined],
        [{ key: 'not a list' }, undefined],
        [{ message: 'Top-level words' }, 'Top-level words'],
        ['Unauthorized', 'Unauthorized'],
        [[1, 2], undefined],
      ];
      for (const [body, expected] of cases) {
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        assert.equal(bitbucketMessageOf(text), expected, text);
      }
    });

    it('never puts the token into any error', async () => {
      const { client } = bb.client({ apiToken: TOKEN });
      bb.faults.add({ path: '/', status: 500, body: 'boom' });
      assertNoSecrets(await client.getRepository('acme', 'models').catch((e: unknown) => e));
      bb.faults.clear();
      bb.faults.add({ path: '/', status: 403, body: errorBody('Forbidden') });
      assertNoSecrets(await client.listAccessKeys('acme', 'models').catch((e: unknown) => e));
    });
  });
});

describe('fetch transport without a server', () => {
  it('a refused connection becomes BitbucketNetworkError ECONNREFUSED, retried, without credentials in it', async () => {
    const bb = await startFakeBitbucket([]);
    const { client, retries } = bb.client({ maxAttempts: 2 });
    await bb.close();
    const err = await client.getCurrentUser().catch((e: unknown) => e);
    assert.ok(err instanceof BitbucketNetworkError, String(err));
    assert.equal(err.networkCode, 'ECONNREFUSED');
    assert.equal(retries.length, 1);
    assertNoSecrets(err);
  });

  it('a request that gets no answer in time becomes BitbucketNetworkError ETIMEDOUT', async () => {
    const bb = await startFakeBitbucket([]);
    try {
      bb.hang.push(/\/user$/);
      const { client } = bb.client({ maxAttempts: 2, timeoutMs: 50 });
      const err = await client.getCurrentUser().catch((e: unknown) => e);
      assert.ok(err instanceof BitbucketNetworkError, String(err));
      assert.equal(err.networkCode, 'ETIMEDOUT');
      assert.equal(bb.log.length, 2);
      assertNoSecrets(err);
    } finally {
      await bb.close();
    }
  });
});
