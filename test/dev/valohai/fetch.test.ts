import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_NOT_ON_REPOSITORY } from '../../../dev/ssh-host/index';
import type { KeyPair } from '../ssh-host/support/git-world';
import { obj, startStack, testSeed, type Stack } from './support/valohai-fixture';

/**
 * ws/super has submodule lib at `../lib.git`, and lib has submodule data at `../data.git`: git itself
 * resolves both against `git@bitbucket.org:ws/super.git`.
 */
let stack: Stack;
let workDir: string;
let full: KeyPair; // on super, lib and data
let partial: KeyPair; // on super and lib, not on data
let stranger: KeyPair; // an access key nowhere
let superHead: string;
let featureHead: string;

const FULL = '00000000-0000-4000-8000-000000000001';
const PARTIAL = '00000000-0000-4000-8000-000000000002';
const STRANGER = '00000000-0000-4000-8000-000000000003';
const NO_KEY = '00000000-0000-4000-8000-000000000004';
const BROKEN = '00000000-0000-4000-8000-000000000005';
const SUPER_URL = 'git@bitbucket.org:ws/super.git';

const gitmodules = (name: string, url: string) => `[submodule "${name}"]\n\tpath = ${name}\n\turl = ${url}\n`;

async function configure(projectId: string, settings: { url?: string; ref?: string; key?: KeyPair }): Promise<void> {
  const id = stack.vh.state.project(projectId)?.repository?.id;
  const body: Record<string, string> = { url: settings.url ?? SUPER_URL, ref: settings.ref ?? 'main' };
  if (settings.key) body.ssh_private_key = settings.key.privateText;
  const res = await stack.api(`/repositories/${String(id)}/`, { method: 'PATCH', body });
  assert.equal(res.status, 200, res.text);
}

async function fetchProject(projectId: string): Promise<{ status: number; commits: { identifier: string; ref: string; ref_names: string[]; adhoc: boolean; repository: unknown; project: unknown; commit_time: string }[]; errors: string[]; text: string }> {
  const res = await stack.api(`/projects/${projectId}/fetch/`, { method: 'POST' });
  const body = obj(res);
  return { status: res.status, commits: body.commits as never, errors: body.errors as string[], text: res.text };
}

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'vb-valohai-work-'));
  stack = await startStack(testSeed, workDir);
  const { world } = stack;
  for (const slug of ['super', 'lib', 'data']) await world.createRepo('ws', slug);
  const dataHead = await world.commit('ws', 'data', { files: { 'rows.csv': 'a,b\n1,2\n' } });
  const libHead = await world.commit('ws', 'lib', { files: { '.gitmodules': gitmodules('data', '../data.git'), 'lib.py': 'x = 1\n' }, gitlinks: { data: dataHead } });
  superHead = await world.commit('ws', 'super', { files: { '.gitmodules': gitmodules('lib', '../lib.git'), 'train.py': 'print(1)\n' }, gitlinks: { lib: libHead } });
  featureHead = await world.commit('ws', 'super', { branch: 'feature', files: { 'feature.txt': 'f\n' } });
  [full, partial, stranger] = await Promise.all([world.keyPair('full'), world.keyPair('partial'), world.keyPair('stranger')]);
  // Broken submodule records, as git meets them: a gitlink .gitmodules gives no URL, a URL git takes
  // for an option, and a gitlink naming a commit its repository does not have.
  for (const slug of ['no-url', 'dash-url', 'gone']) await world.createRepo('ws', slug);
  await world.commit('ws', 'no-url', { files: { '.gitmodules': gitmodules('lib', '../lib.git') }, gitlinks: { lib: libHead, extra: dataHead } });
  await world.commit('ws', 'dash-url', { files: { '.gitmodules': gitmodules('lib', '-oProxyCommand=touch% /tmp/x') }, gitlinks: { lib: libHead } });
  await world.commit('ws', 'gone', { files: { '.gitmodules': gitmodules('data', '../data.git') }, gitlinks: { data: '0123456789abcdef0123456789abcdef01234567' } });
  for (const slug of ['super', 'lib', 'data', 'no-url', 'dash-url', 'gone']) world.directory.addKey('ws', slug, full.publicText);
  for (const slug of ['super', 'lib']) world.directory.addKey('ws', slug, partial.publicText);
});
after(async () => {
  await stack.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('fetch over SSH with the stored key', () => {
  test('with the key on the superproject and every (nested, relative) submodule: the branch heads come back', async () => {
    await configure(FULL, { key: full });
    const usedBefore = stack.world.directory.used.length;
    const res = await fetchProject(FULL);
    assert.equal(res.status, 201);
    assert.deepEqual(res.errors, []);
    const byId = new Map(res.commits.map((c) => [c.identifier, c]));
    assert.deepEqual([...byId.keys()].sort(), [superHead, featureHead].sort());
    const main = byId.get(superHead);
    assert.equal(main?.ref, 'main');
    assert.deepEqual(main?.ref_names, ['main']);
    assert.equal(main?.adhoc, false);
    assert.equal(main?.project, FULL);
    assert.equal(main?.repository, stack.vh.state.project(FULL)?.repository?.id);
    assert.match(main?.commit_time ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.equal(byId.get(featureHead)?.ref, 'feature');
    // Every repository was reached over SSH with the key: superproject, submodule, nested submodule.
    const used = stack.world.directory.used.slice(usedBefore).map((u) => u.slug);
    assert.deepEqual([...new Set(used)].sort(), ['data', 'lib', 'super']);
    assert.doesNotMatch(res.text, /PRIVATE KEY/);
  });

  test('a second fetch finds nothing new; after a push it returns only the new commit', async () => {
    const again = await fetchProject(FULL);
    assert.deepEqual(again, { ...again, commits: [], errors: [] });
    const pushed = await stack.world.commit('ws', 'super', { files: { 'train.py': 'print(2)\n' } });
    const res = await fetchProject(FULL);
    assert.deepEqual(res.errors, []);
    assert.deepEqual(res.commits.map((c) => [c.identifier, c.ref]), [[pushed, 'main']]);
    superHead = pushed;
  });

  test('the commit list answers newest first, paginated, per project', async () => {
    const res = await stack.api(`/commits/?project=${FULL}&ordering=-commit_time&limit=1`);
    assert.equal(res.status, 200);
    const page = obj(res);
    assert.equal(page.count, 3);
    assert.deepEqual((page.results as { identifier: string }[]).map((c) => c.identifier), [superHead]);
    assert.equal(typeof page.next, 'string');
    const oldest = obj(await stack.api(`/commits/?project=${FULL}&ordering=commit_time`));
    assert.equal((oldest.results as { identifier: string }[])[2]?.identifier, superHead);
    const nested = obj(await stack.api(`/projects/${FULL}/commits/`));
    assert.equal(nested.count, 3);
    const otherProject = obj(await stack.api(`/commits/?project=${PARTIAL}`));
    assert.equal(otherProject.count, 0);
    assert.deepEqual(stack.vh.state.commits(FULL)[0]?.identifier, superHead);
  });

  test('with the key missing on the nested submodule repo: git\'s own words in errors, and no commit recorded', async () => {
    await configure(PARTIAL, { key: partial });
    const res = await fetchProject(PARTIAL);
    assert.equal(res.status, 201);
    assert.deepEqual(res.commits, []);
    assert.equal(res.errors.length, 1);
    const error = res.errors[0] ?? '';
    assert.ok(error.includes(KEY_NOT_ON_REPOSITORY), error);
    assert.match(error, /git@bitbucket\.org:ws\/data\.git/);
    assert.doesNotMatch(error, new RegExp(workDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no local paths');
    assert.doesNotMatch(res.text, /PRIVATE KEY/);
    assert.equal(stack.vh.state.commits(PARTIAL).length, 0);
    assert.deepEqual(stack.vh.state.fetches(PARTIAL).map((f) => f.errors.length), [1]);
  });

  test('once the key is added on that repo, the same fetch succeeds', async () => {
    const id = stack.world.directory.addKey('ws', 'data', partial.publicText);
    try {
      const res = await fetchProject(PARTIAL);
      assert.deepEqual(res.errors, []);
      assert.ok(res.commits.some((c) => c.identifier === superHead));
    } finally {
      stack.world.directory.removeKey('ws', 'data', id);
    }
  });

  test('a key that is an access key nowhere ends in "Permission denied (publickey)"', async () => {
    await configure(STRANGER, { key: stranger });
    const res = await fetchProject(STRANGER);
    assert.deepEqual(res.commits, []);
    assert.match(res.errors[0] ?? '', /^Could not fetch git@bitbucket\.org:ws\/super\.git: [\s\S]*Permission denied \(publickey\)/);
  });

  test('no key, an unknown fetch reference and an unknown repository are reported in errors', async () => {
    await configure(NO_KEY, {});
    assert.match((await fetchProject(NO_KEY)).errors[0] ?? '', /no SSH private key is set[\s\S]*Permission denied \(publickey\)/);
    await configure(NO_KEY, { key: full, ref: 'no-such-branch' });
    assert.match((await fetchProject(NO_KEY)).errors[0] ?? '', /couldn't find remote ref no-such-branch/);
    await configure(NO_KEY, { key: full, url: 'git@bitbucket.org:ws/missing.git' });
    assert.match((await fetchProject(NO_KEY)).errors[0] ?? '', /Repository not found/);
    await configure(NO_KEY, { key: full, url: 'git@github.com:ws/super.git' });
    assert.match((await fetchProject(NO_KEY)).errors[0] ?? '', /git@github\.com: Permission denied \(publickey\)/);
    for (const url of ["git@bit'bucket.org:ws/super.git", '--upload-pack=touch /tmp/x', 'ext::sh -c touch% /tmp/x']) {
      await configure(NO_KEY, { key: full, url });
      assert.match((await fetchProject(NO_KEY)).errors[0] ?? '', /this is not a git URL|transport 'ext' not allowed/, url);
    }
    await configure(NO_KEY, { key: full, url: 'https://bitbucket.org/ws/super.git' });
    assert.match((await fetchProject(NO_KEY)).errors[0] ?? '', /transport 'https' not allowed[\s\S]*Only SSH URLs/);
    assert.equal(stack.vh.state.commits(NO_KEY).length, 0);
  });

  test('a gitlink without a URL, or with a commit its repository lacks, fails in git submodule update\'s words', async () => {
    const errorOf = async (slug: string) => {
      await configure(BROKEN, { key: full, url: `git@bitbucket.org:ws/${slug}.git` });
      const res = await fetchProject(BROKEN);
      assert.deepEqual(res.commits, []);
      assert.equal(res.errors.length, 1, res.text);
      return res.errors[0] ?? '';
    };
    assert.match(await errorOf('no-url'), /^Could not fetch the submodules of git@bitbucket\.org:ws\/no-url\.git at main \([0-9a-f]{12}\): fatal: No url found for submodule path 'extra' in \.gitmodules$/);
    assert.match(await errorOf('dash-url'), /fatal: No url found for submodule path 'lib' in \.gitmodules$/);
    const gone = await errorOf('gone');
    assert.ok(gone.includes("fatal: Fetched in submodule path 'data', but it did not contain 0123456789abcdef0123456789abcdef01234567."), gone);
    assert.equal(stack.vh.state.commits(BROKEN).length, 0);
  });

  test('a project without a repository URL answers in errors; a project the user cannot see is 404', async () => {
    const res = await fetchProject('00000000-0000-4000-8000-000000000007');
    assert.match(res.errors[0] ?? '', /No repository URL is set/);
    assert.equal((await stack.api('/projects/00000000-0000-4000-8000-000000000006/fetch/', { method: 'POST' })).status, 404);
  });

  test('the key file exists only during the git calls: nothing of it is left on disk', async () => {
    const leftovers = await readdir(join(workDir, 'tmp'));
    assert.deepEqual(leftovers, []);
    const projectDirs = await readdir(join(workDir, 'projects'));
    assert.ok(projectDirs.includes(FULL), 'the mirror is kept between fetches');
    assert.deepEqual(await readdir(join(workDir, 'projects', FULL)), ['mirror.git']);
  });
});
