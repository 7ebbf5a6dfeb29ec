import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGit } from '../../../dev/seed/git-cli';
import { FOREIGN_SUBMODULE_SHA, SeedError, buildSeed, demoRepos, demoSeed, type BuiltSeed, type Seed } from '../../../dev/seed/index';

let demo: BuiltSeed;
let work: string;

before(async () => {
  demo = await buildSeed(demoSeed);
  work = await mkdtemp(join(tmpdir(), 'seed-test-'));
});
after(async () => {
  await demo.cleanup();
  await rm(work, { recursive: true, force: true });
});

const git = async (args: string[], gitDir?: string) => (await runGit(args, { gitDir })).toString('utf8').trim();
const repoPath = (slug: string, ws = 'acme') => {
  const path = demo.state.bareRepoPath(ws, slug);
  assert.ok(path, `${ws}/${slug} is seeded`);
  return path;
};

/** Gitlinks of a commit: path -> commit id. */
async function gitlinks(gitDir: string, rev: string): Promise<Map<string, string>> {
  const out = await git(['ls-tree', '-r', rev], gitDir);
  const links = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^160000 commit ([0-9a-f]{40})\t(.+)$/.exec(line);
    if (m) links.set(m[2] as string, m[1] as string);
  }
  return links;
}

describe('the demo seed', () => {
  test('cloning the bare superproject from its path shows .gitmodules with exactly its three Bitbucket URL forms', async () => {
    const dir = join(work, 'ml-models');
    await runGit(['clone', '--quiet', repoPath('ml-models'), dir]);
    assert.equal(await git(['-C', dir, 'config', '-f', '.gitmodules', '--get-regexp', String.raw`^submodule\..*\.url$`]), [
      'submodule.datasets.url ../datasets.git',
      'submodule.libs/training-lib.url git@bitbucket.org:acme/training-lib.git',
      'submodule.docs.url https://bitbucket.org/acme/docs-site.git',
    ].join('\n'));
    assert.deepEqual([...(await gitlinks(repoPath('ml-models'), 'main')).keys()].sort(), ['datasets', 'docs', 'libs/training-lib']);
    assert.equal(await git(['-C', dir, 'config', '-f', '.gitmodules', 'submodule.datasets.path']), 'datasets');
    assert.equal(await git(['-C', dir, 'rev-parse', '--abbrev-ref', 'HEAD']), 'main');
    assert.equal(await readFile(join(dir, 'models/config/params.json'), 'utf8'), '{"epochs": 10}\n');
  });

  test('every gitlink to a seeded repository names a commit that repository has', async () => {
    const checks: [string, string, string][] = [
      ['ml-models', 'datasets', 'datasets'],
      ['ml-models', 'libs/training-lib', 'training-lib'],
      ['ml-models', 'docs', 'docs-site'],
      ['research-notebooks', 'datasets', 'datasets'],
      ['inference-api', 'datasets', 'datasets'],
      ['inference-api', 'libs/training-lib', 'training-lib'],
      ['training-lib', 'vendor/feature-store', 'feature-store'],
    ];
    for (const [superproject, path, target] of checks) {
      const sha = (await gitlinks(repoPath(superproject), 'main')).get(path);
      assert.ok(sha, `${superproject} has a gitlink at ${path}`);
      assert.equal(await git(['cat-file', '-t', sha], repoPath(target)), 'commit', `${target} has ${sha}`);
      assert.equal(sha, await git(['rev-parse', 'refs/heads/main'], repoPath(target)), 'it is the tip of main');
    }
  });

  test('the foreign-host submodule lives in research-notebooks, beside a relative one', async () => {
    const path = repoPath(demoRepos.foreignSubmodules);
    assert.equal(await git(['symbolic-ref', 'HEAD'], path), 'refs/heads/main');
    assert.match(await git(['show', 'main:README.md'], path), /^# Research notebooks/);
    const gitmodules = await git(['show', 'main:.gitmodules'], path);
    assert.match(gitmodules, /url = \.\.\/datasets\.git/);
    assert.match(gitmodules, /url = git@github\.com:example\/tools\.git/);
    const links = await gitlinks(path, 'main');
    assert.equal(links.get('tools'), FOREIGN_SUBMODULE_SHA);
    assert.equal(links.get('datasets'), await git(['rev-parse', 'refs/heads/main'], repoPath('datasets')));
  });

  test('a recursive submodule clone over file URLs reaches the nested feature-store', async () => {
    const dir = join(work, 'inference');
    // The relative URLs resolve against the superproject's path, so the sibling bare repos are found.
    await runGit(['-c', 'protocol.file.allow=always', 'clone', '--quiet', '--recurse-submodules', repoPath('inference-api'), dir]);
    const nested = await readFile(join(dir, 'libs/training-lib/vendor/feature-store/features/customer.py'), 'utf8');
    assert.equal(nested, 'FEATURES = ["tenure", "spend_30d"]\n');
  });

  test('the branch with a slash, the empty repository and HEAD are as described', async () => {
    const branches = await git(['for-each-ref', '--format=%(refname:short)', 'refs/heads'], repoPath('ml-models'));
    assert.deepEqual(branches.split('\n').sort(), ['feature/new-model', 'main']);
    assert.equal(await git(['for-each-ref', 'refs/heads'], repoPath('scratch')), '');
    assert.equal(await git(['symbolic-ref', 'HEAD'], repoPath('scratch')), 'refs/heads/main');
  });

  test('building twice gives the same commit ids', async () => {
    const again = await buildSeed(demoSeed);
    try {
      for (const slug of ['ml-models', 'training-lib', 'feature-store']) {
        const a = await git(['rev-parse', 'refs/heads/main'], repoPath(slug));
        const b = await git(['rev-parse', 'refs/heads/main'], again.state.bareRepoPath('acme', slug));
        assert.equal(a, b, slug);
      }
      assert.equal(again.state.findRepo('acme', 'ml-models')?.uuid, demo.state.findRepo('acme', 'ml-models')?.uuid);
    } finally {
      await again.cleanup();
    }
  });

  test('cleanup removes the repositories', async () => {
    const built = await buildSeed({ workspaces: [{ slug: 'w', repos: [{ slug: 'r' }] }], users: [] });
    assert.ok(existsSync(built.root));
    await built.cleanup();
    assert.ok(!existsSync(built.root));
  });
});

describe('pushCommit', () => {
  test('adds a commit on a branch and returns its id; a new branch starts from main', async () => {
    const before = await git(['rev-parse', 'refs/heads/main'], repoPath('feature-store'));
    const sha = await demo.state.pushCommit('acme', 'feature-store', {
      branch: 'main',
      message: 'Add a feature',
      files: { 'features/orders.py': 'ORDERS = []\n', 'README.md': null },
    });
    assert.match(sha, /^[0-9a-f]{40}$/);
    assert.equal(await git(['rev-parse', 'refs/heads/main'], repoPath('feature-store')), sha);
    assert.equal(await git(['rev-parse', `${sha}^`], repoPath('feature-store')), before);
    assert.equal(await git(['show', `${sha}:features/orders.py`], repoPath('feature-store')), 'ORDERS = []');
    await assert.rejects(git(['cat-file', '-e', `${sha}:README.md`], repoPath('feature-store')));

    const onBranch = await demo.state.pushCommit('acme', 'feature-store', { branch: 'topic/x', message: 'Topic', files: { 'x.txt': 'x\n' } });
    assert.equal(await git(['rev-parse', `${onBranch}^`], repoPath('feature-store')), sha);
  });

  test('concurrent pushes to one repository all land, one after another', async () => {
    const shas = await Promise.all(
      [1, 2, 3, 4].map((i) => demo.state.pushCommit('acme', 'docs-site', { branch: 'main', message: `Page ${i}`, files: { [`p${i}.md`]: `${i}\n` } })),
    );
    const log = (await git(['log', '--format=%H', '-4', 'refs/heads/main'], repoPath('docs-site'))).split('\n');
    assert.deepEqual(log.sort(), [...shas].sort());
  });

  test('can add a gitlink, and refuses an unknown repository or a bad branch name', async () => {
    const target = await git(['rev-parse', 'refs/heads/main'], repoPath('datasets'));
    const sha = await demo.state.pushCommit('acme', 'scratch', {
      branch: 'main',
      message: 'Add data submodule',
      files: { '.gitmodules': '[submodule "data"]\n\tpath = data\n\turl = ../datasets.git\n' },
      gitlinks: { data: target },
    });
    assert.equal((await gitlinks(repoPath('scratch'), sha)).get('data'), target);
    await assert.rejects(demo.state.pushCommit('acme', 'nope', { branch: 'main', message: 'x' }), /No repository "acme\/nope"/);
    await assert.rejects(demo.state.pushCommit('acme', 'scratch', { branch: 'a..b', message: 'x' }), /not a valid git branch name/);
  });
});

describe('seed mistakes are reported with the fix', () => {
  const base = (repos: Seed['workspaces'][number]['repos']): Seed => ({ workspaces: [{ slug: 'w', repos }], users: [] });

  test('a submodule cycle', async () => {
    const seed = base([
      { slug: 'a', commits: [{ message: 'a', submodules: [{ path: 'b', url: '../b.git', target: { repo: 'w/b' } }] }] },
      { slug: 'b', commits: [{ message: 'b', submodules: [{ path: 'a', url: '../a.git', target: { repo: 'w/a' } }] }] },
    ]);
    await assert.rejects(buildSeed(seed, { parentDir: work }), (err: unknown) => err instanceof SeedError && /cycle/.test(err.message));
  });

  test('a submodule pointing at a repository the seed lacks, or at an empty one', async () => {
    await assert.rejects(
      buildSeed(base([{ slug: 'a', commits: [{ message: 'a', submodules: [{ path: 'x', url: '../x.git', target: { repo: 'w/x' } }] }] }])),
      /does not define/,
    );
    await assert.rejects(
      buildSeed(base([{ slug: 'e' }, { slug: 'a', commits: [{ message: 'a', submodules: [{ path: 'e', url: '../e.git', target: { repo: 'w/e' } }] }] }])),
      /has no commits/,
    );
  });

  test('unknown users and unusable account keys', async () => {
    await assert.rejects(
      buildSeed({ ...base([{ slug: 'a' }]), memberships: [{ workspace: 'w', email: 'ghost@x.test', role: 'owner' }] }),
      /ghost@x\.test/,
    );
    await assert.rejects(
      buildSeed({ ...base([]), users: [{ email: 'u@x.test', accountId: '1', displayName: 'U', nickname: 'u', sshKeys: ['ssh-ed25519 nope'] }] }),
      /Account SSH key of u@x\.test/,
    );
  });
});
