// The engine's check hands back what it read on its way: each repository's key listing (or why it
// could not be read) and the authority's verdicts on where a repair would put the key. The health check
// acts on them (unneeded keys, repositories that need an admin) without asking Bitbucket twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  check,
  type AccessKeyInfo,
  type BitbucketApi,
  type ConnectionRecord,
  type TargetVerdict,
  type ValohaiApi,
  type WorkflowDeps,
} from '../../src/connect/index';
import { generateKeyPair } from '../../src/ssh/index';

const HEAD = 'a'.repeat(40);
const GITMODULES = '[submodule "lib"]\n\tpath = lib\n\turl = git@bitbucket.org:acme/lib.git\n[submodule "data"]\n\tpath = data\n\turl = git@bitbucket.org:acme/data.git\n';

async function world(keysOf: Record<string, AccessKeyInfo[] | Error>) {
  const { publicKey } = await generateKeyPair({ type: 'ed25519' });
  const key = publicKey.split(' ').slice(0, 2).join(' ');
  const record: ConnectionRecord = {
    repository: 'acme/app',
    projectId: 'p1',
    projectName: 'app',
    fingerprint: 'SHA256:x',
    publicKey: key,
    keyType: 'ed25519',
    label: 'Valohai app 2026-01-01 [vh:test]',
    createdAt: '2026-01-01T00:00:00Z',
    ref: 'main',
    targets: [
      { repository: 'acme/app', keyId: 1 },
      { repository: 'acme/lib', keyId: 2 },
      { repository: 'acme/data', keyId: 3 },
    ],
  };
  const theirs = (id: number): AccessKeyInfo => ({ id, key, label: record.label, createdOn: '2026-01-01T00:00:00Z', lastUsed: '2026-06-01T00:00:00Z' });
  const bitbucket: BitbucketApi = {
    getRepository: async (workspace, slug) => ({ uuid: `{${slug}}`, slug, fullName: `${workspace}/${slug}`, workspace, mainBranch: 'main', sshUrl: `git@bitbucket.org:${workspace}/${slug}.git` }),
    getBranchHead: async () => HEAD,
    getFileAtCommit: async (_w, slug, _c, path) => (slug === 'app' && path === '.gitmodules' ? GITMODULES : undefined),
    listAccessKeys: async (workspace, slug) => {
      const got = keysOf[`${workspace}/${slug}`];
      if (got instanceof Error) throw got;
      return (got ?? []).map((k) => (k.key === '' ? theirs(k.id) : k));
    },
    addAccessKey: async (_w, _s, k) => ({ id: 99, key: k.key, label: k.label, lastUsed: null }),
    deleteAccessKey: async () => 'deleted',
  };
  const valohai: ValohaiApi = {
    findProject: async () => ({ id: 'p1', name: 'app', repository: { id: 7, url: 'git@bitbucket.org:acme/app.git', ref: 'main' } }),
    checkRepositoryWrite: async () => undefined,
    repositoryLocationWritable: async () => true,
    setRepositoryLocation: async () => undefined,
    setRepository: async () => undefined,
    clearRepositoryKey: async () => undefined,
    fetchRepository: async () => ({ commits: [], errors: [] }),
    listCommits: async () => [{ identifier: HEAD, ref: 'main' }],
  };
  const asked: string[][] = [];
  const deps: WorkflowDeps = {
    bitbucket,
    valohai,
    generateKey: async () => assert.fail('a check makes no key'),
    clock: { now: () => new Date('2026-07-01T00:00:00Z') },
    store: { get: async () => record, put: async () => undefined, delete: async () => undefined },
    authority: {
      check: async (targets): Promise<TargetVerdict[]> => {
        asked.push(targets.map((t) => `${t.workspace}/${t.slug}`));
        return targets.map((t) => ({ repository: `${t.workspace}/${t.slug}`, allowed: t.slug !== 'data', ...(t.slug === 'data' ? { reason: 'not-admin' as const, message: 'you do not administer it. Ask its admin.' } : {}) }));
      },
    },
  };
  return { deps, key, asked };
}

// `key: ''` stands for the connection's own key in the listings below.
const own = (id: number): AccessKeyInfo => ({ id, key: '', label: '', lastUsed: null });

test("a check's result carries every repository's listing, and the error of one it could not read", async () => {
  const unreadable = Object.assign(new Error('Bitbucket refused (403)'), { status: 403 });
  const { deps, key } = await world({ 'acme/app': [own(1)], 'acme/lib': [own(2), { id: 5, key: 'ssh-ed25519 AAAAother', label: 'deploy', lastUsed: null }], 'acme/data': unreadable });
  const result = await check(deps, { workspace: 'acme', repo: 'app', project: 'p1' });
  assert.deepEqual(
    result.listings.map((l) => [l.repository, l.keys?.map((k) => k.id) ?? null]),
    [
      ['acme/app', [1]],
      ['acme/lib', [2, 5]],
      ['acme/data', null],
    ],
  );
  assert.equal(result.listings[0]?.keys?.[0]?.key, key, 'the keys as Bitbucket listed them');
  assert.equal(result.listings[2]?.error, unreadable, 'the very error, so a caller can tell a deleted repository (404) from another failure');
  assert.deepEqual(result.verdicts, [], 'no repair was asked for, so nobody was asked');
});

test('a repair returns the verdicts it was given, with how each repository was reached', async () => {
  const { deps, asked } = await world({ 'acme/app': [own(1)], 'acme/lib': [], 'acme/data': [] });
  const result = await check(deps, { workspace: 'acme', repo: 'app', project: 'p1', repair: true });
  assert.deepEqual(asked, [['acme/lib', 'acme/data']]);
  assert.deepEqual(
    result.verdicts.map((v) => [v.repository, v.allowed, v.via]),
    [
      ['acme/lib', true, 'lib'],
      ['acme/data', false, 'data'],
    ],
  );
  assert.equal(result.verdicts[1]?.reason, 'not-admin');
  assert.deepEqual(result.repaired.map((r) => r.repository), ['acme/lib'], 'the key went back only where it was allowed');
  assert.ok(result.findings.some((f) => f.code === 'needs-admin' && f.repository === 'acme/data'));
});
