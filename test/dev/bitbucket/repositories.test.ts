import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runGit } from '../../../dev/seed/git-cli';
import { demoRepos } from '../../../dev/seed/index';
import { creds, obj, startDemo, type DemoEmulator } from './support/fixture';

let demo: DemoEmulator;

before(async () => {
  demo = await startDemo();
});
after(() => demo.bb.close());

const gitTip = async (slug: string, branch: string) => {
  const path = demo.bb.state.bareRepoPath('acme', slug);
  assert.ok(path);
  return (await runGit(['rev-parse', `refs/heads/${branch}`], { gitDir: path })).toString().trim();
};

describe('GET /repositories/{workspace}/{repo_slug}', () => {
  test('describes the repository with https and ssh clone links and its main branch', async () => {
    const res = await demo.call('/repositories/acme/ml-models');
    assert.equal(res.status, 200);
    const repo = obj(res);
    assert.equal(repo.type, 'repository');
    assert.equal(repo.full_name, 'acme/ml-models');
    assert.equal(repo.slug, 'ml-models');
    assert.equal(repo.name, 'ML Models');
    assert.equal(repo.is_private, true);
    assert.match(String(repo.uuid), /^\{[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\}$/);
    assert.deepEqual(repo.mainbranch, { name: 'main', type: 'branch' });
    const links = repo.links as { clone: { name: string; href: string }[]; html: { href: string }; self: { href: string } };
    assert.deepEqual(links.clone, [
      { name: 'https', href: 'https://bitbucket.org/acme/ml-models.git' },
      { name: 'ssh', href: 'git@bitbucket.org:acme/ml-models.git' },
    ]);
    assert.equal(links.html.href, 'https://bitbucket.org/acme/ml-models');
    assert.equal(links.self.href, `${demo.bb.url}/repositories/acme/ml-models`);
    assert.equal((repo.workspace as { slug: string }).slug, 'acme');
    assert.equal((repo.owner as { uuid: string }).uuid, (repo.workspace as { uuid: string }).uuid);
  });

  test('an empty repository has mainbranch null', async () => {
    assert.equal(obj(await demo.call(`/repositories/acme/${demoRepos.empty}`)).mainbranch, null);
  });

  test('workspace and repository can be given by {uuid}, with raw or percent-encoded braces, and slugs in any case', async () => {
    const repo = obj(await demo.call('/repositories/acme/ml-models'));
    const ws = repo.workspace as { uuid: string };
    const uuid = String(repo.uuid);
    for (const path of [
      `/repositories/${ws.uuid}/${uuid}`,
      `/repositories/${encodeURIComponent(ws.uuid)}/${encodeURIComponent(uuid)}`,
      `/repositories/acme/${uuid.toUpperCase()}`,
      '/repositories/ACME/ML-Models',
    ]) {
      const res = await demo.call(path);
      assert.equal(res.status, 200, path);
      assert.equal(obj(res).full_name, 'acme/ml-models');
    }
    assert.equal((await demo.call('/repositories/acme/{00000000-0000-4000-8000-000000000000}')).status, 404);
  });

  test('the clone host can be configured', async () => {
    const other = await startBitbucketWithHost('git.example.test');
    try {
      const links = obj(await other.call('/repositories/acme/ml-models')).links as { clone: { name: string; href: string }[] };
      assert.equal(links.clone.find((l) => l.name === 'ssh')?.href, 'git@git.example.test:acme/ml-models.git');
    } finally {
      await other.bb.close();
    }
  });
});

async function startBitbucketWithHost(gitHost: string): Promise<DemoEmulator> {
  return startDemo({ gitHost, seed: demo.bb.state });
}

describe('GET /repositories/{workspace}', () => {
  test('lists the repositories the caller can see, page by page', async () => {
    const all: string[] = [];
    let next: string | undefined = '/repositories/acme?pagelen=3';
    while (next) {
      const page = obj(await demo.call(next));
      assert.equal(page.size, 8);
      all.push(...(page.values as { slug: string }[]).map((r) => r.slug));
      next = page.next as string | undefined;
    }
    assert.deepEqual(all, ['datasets', 'docs-site', 'feature-store', 'inference-api', 'ml-models', 'research-notebooks', 'scratch', 'training-lib']);

    const reader = obj(await demo.call('/repositories/acme', { as: { email: creds.reader.email, token: creds.reader.token } }));
    assert.deepEqual((reader.values as { slug: string }[]).map((r) => r.slug), ['docs-site', 'ml-models']);
    const adminOnly = obj(await demo.call('/repositories/acme?role=admin', { as: { email: creds.writer.email, token: creds.writer.token } }));
    assert.equal(adminOnly.size, 0);
  });

  test('q filters and sort orders the list; a malformed q is a 400', async () => {
    const found = obj(await demo.call(`/repositories/acme?q=${encodeURIComponent('is_private = false')}`));
    assert.deepEqual((found.values as { slug: string }[]).map((r) => r.slug), ['docs-site']);
    const sorted = obj(await demo.call('/repositories/acme?sort=-slug&pagelen=2'));
    assert.deepEqual((sorted.values as { slug: string }[]).map((r) => r.slug), ['training-lib', 'scratch']);
    assert.equal((await demo.call(`/repositories/acme?q=${encodeURIComponent('name = ')}`)).status, 400);
  });

  test('an unknown workspace is 404', async () => {
    assert.equal((await demo.call('/repositories/nobody')).status, 404);
  });
});

describe('GET .../refs/branches/{name}', () => {
  test('gives the tip commit of a branch, also for a name holding a slash', async () => {
    const main = obj(await demo.call('/repositories/acme/ml-models/refs/branches/main'));
    assert.equal(main.type, 'branch');
    assert.equal(main.name, 'main');
    const target = main.target as { hash: string; type: string; parents: { hash: string }[]; message: string };
    assert.equal(target.type, 'commit');
    assert.equal(target.hash, await gitTip('ml-models', 'main'));
    assert.equal(target.parents.length, 1);

    const slash = obj(await demo.call(`/repositories/acme/ml-models/refs/branches/${encodeURIComponent(demoRepos.slashBranch)}`));
    assert.equal(slash.name, 'feature/new-model');
    assert.equal((slash.target as { hash: string }).hash, await gitTip('ml-models', 'feature/new-model'));
    assert.notEqual((slash.target as { hash: string }).hash, target.hash);
  });

  test('follows commits pushed at run time', async () => {
    const sha = await demo.bb.state.pushCommit('acme', 'datasets', { branch: 'main', message: 'More data', files: { 'data/more.csv': 'x,y\n5,6\n' } });
    const branch = obj(await demo.call('/repositories/acme/datasets/refs/branches/main'));
    assert.equal((branch.target as { hash: string }).hash, sha);
    assert.equal((branch.target as { message: string }).message, 'More data\n');
  });

  test('an unknown branch is a 404 error', async () => {
    const res = await demo.call('/repositories/acme/ml-models/refs/branches/nope');
    assert.equal(res.status, 404);
    assert.equal(obj(res).type, 'error');
  });
});
