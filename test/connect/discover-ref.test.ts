// Which fetch reference discovery reads, and what an empty repository is told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BranchNotFoundError } from '../../src/bitbucket/index';
import { discover, EmptyRepositoryError } from '../../src/connect/discover';
import type { BitbucketApi, RepositoryInfo } from '../../src/connect/ports';
import { toResolverError } from '../../src/forge/errors';

function bitbucket(repository: RepositoryInfo, branches: Record<string, string>): BitbucketApi & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    getRepository: async () => repository,
    getBranchHead: async (_w, _r, branch) => {
      asked.push(branch);
      const sha = branches[branch];
      if (!sha) {
        // As the real client throws it.
        throw new BranchNotFoundError(branch, repository.fullName);
      }
      return sha;
    },
    getFileAtCommit: async () => undefined,
    listAccessKeys: async () => [],
    addAccessKey: async () => assert.fail('discovery adds nothing'),
    deleteAccessKey: async () => assert.fail('discovery removes nothing'),
  };
}

const repo = (mainBranch: string | null): RepositoryInfo => ({
  uuid: '{6f1c2a3b-0000-4000-8000-000000000001}',
  slug: 'fresh',
  fullName: 'acme/fresh',
  workspace: 'acme',
  mainBranch,
  sshUrl: 'git@bitbucket.org:acme/fresh.git',
});

test('an empty repository is said to have no commits, whatever branch was asked for, and not as a passing fault', async () => {
  const err = await discover(bitbucket(repo(null), {}), { workspace: 'acme', repo: 'fresh', ref: 'main', submodules: true }).catch((e: unknown) => e);
  assert.ok(err instanceof EmptyRepositoryError, `got ${String(err)}`);
  const shown = toResolverError(err);
  assert.equal(shown.message, 'acme/fresh has no commits yet.');
  assert.equal(shown.fix, 'Push a first commit, then try again.');
  assert.doesNotMatch(`${shown.message} ${shown.fix}`, /in a moment|such as main|does not exist/);
  assert.equal(shown.temporary, undefined);
});

test('a missing branch is a problem to correct on the fetch reference, not one to wait out or to ask an admin about', async () => {
  const err = await discover(bitbucket(repo('main'), { main: 'a'.repeat(40) }), { workspace: 'acme', repo: 'fresh', ref: 'mian', submodules: false }).catch((e: unknown) => e);
  const shown = toResolverError(err);
  assert.equal(shown.code, 'not-found', 'not "Bitbucket could not do it": nothing failed at Bitbucket');
  assert.equal(shown.field, 'ref', 'the form shows it on the fetch reference');
  assert.match(shown.message, /^acme\/fresh has no branch "mian": give an existing branch's exact name/);
  assert.doesNotMatch(`${shown.message} ${shown.fix}`, /in a moment|repository name|ask an admin/);
  assert.equal(shown.temporary, undefined);
});

test('the branch given is the one read', async () => {
  const api = bitbucket(repo('main'), { main: 'a'.repeat(40), 'feature/x': 'b'.repeat(40) });
  const plan = await discover(api, { workspace: 'acme', repo: 'fresh', ref: 'feature/x', submodules: false });
  assert.equal(plan.ref, 'feature/x');
  assert.equal(plan.headCommit, 'b'.repeat(40));
});
