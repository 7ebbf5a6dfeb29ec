import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpsRepository } from '../../../dev/valohai/index';
import type { KeyPair } from '../ssh-host/support/git-world';
import { obj, startStack, testSeed, type Stack } from './support/valohai-fixture';

/**
 * https:// URLs as real Valohai meets them on bitbucket.org: a public repository is fetched anonymously,
 * a private one stops at git's credential prompt. The world:
 *
 *   ws/super   (SSH)     lib -> ../lib.git, docs -> https://bitbucket.org/ws/docs.git
 *   ws/lib     (SSH)     data -> ../data.git, theme -> https://bitbucket.org/ws/theme  (https, one level down)
 *   ws/docs    (public)  assets -> ../assets.git  (resolves against the https URL: public too)
 *   ws/leaky   (SSH)     secret -> https://bitbucket.org/ws/secret.git  (private)
 *   ws/odd     (SSH)     docs -> https://bitbucket.org/ws/docs.git, local -> <absolute path of ws/data>
 */
let stack: Stack;
let workDir: string;
let key: KeyPair;
let superHead: string;
let docsHead: string;
let dataPath: string;

const PUBLIC = new Set(['docs', 'theme', 'assets']);
const SUPER = '00000000-0000-4000-8000-000000000001';
const LEAKY = '00000000-0000-4000-8000-000000000002';
const UNKNOWN = '00000000-0000-4000-8000-000000000003';
const HTTPS_TOP = '00000000-0000-4000-8000-000000000004';
const ODD = '00000000-0000-4000-8000-000000000005';

const gitmodules = (modules: Record<string, string>) =>
  Object.entries(modules)
    .map(([name, url]) => `[submodule "${name}"]\n\tpath = ${name}\n\turl = ${url}\n`)
    .join('');

function httpsRepository(url: string): HttpsRepository | undefined {
  const m = /^https:\/\/bitbucket\.org\/ws\/([a-z]+?)(?:\.git)?$/.exec(url);
  const path = m ? stack.world.directory.bareRepoPath('ws', m[1] as string) : undefined;
  return m && path ? { path, isPrivate: !PUBLIC.has(m[1] as string) } : undefined;
}

async function fetchWith(projectId: string, url: string): Promise<{ commits: { identifier: string }[]; errors: string[]; text: string }> {
  const id = stack.vh.state.project(projectId)?.repository?.id;
  const patch = await stack.api(`/repositories/${String(id)}/`, { method: 'PATCH', body: { url, ref: 'main', ssh_private_key: key.privateText } });
  assert.equal(patch.status, 200, patch.text);
  const res = await stack.api(`/projects/${projectId}/fetch/`, { method: 'POST' });
  assert.equal(res.status, 201, res.text);
  const body = obj(res);
  return { commits: body.commits as { identifier: string }[], errors: body.errors as string[], text: res.text };
}

const noLocalPaths = (text: string) => {
  for (const dir of [workDir, stack.world.root]) assert.ok(!text.includes(dir), `no local path in: ${text}`);
};

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'vb-valohai-https-'));
  stack = await startStack(testSeed, workDir, { httpsRepository });
  const { world } = stack;
  for (const slug of ['super', 'lib', 'data', 'docs', 'theme', 'assets', 'leaky', 'secret', 'odd']) await world.createRepo('ws', slug);
  dataPath = stack.world.directory.bareRepoPath('ws', 'data') as string;
  const data = await world.commit('ws', 'data', { files: { 'rows.csv': 'a\n1\n' } });
  const theme = await world.commit('ws', 'theme', { files: { 'theme.css': 'body {}\n' } });
  const assets = await world.commit('ws', 'assets', { files: { 'logo.svg': '<svg/>\n' } });
  const secret = await world.commit('ws', 'secret', { files: { 'token.txt': 'nope\n' } });
  const lib = await world.commit('ws', 'lib', {
    files: { '.gitmodules': gitmodules({ data: '../data.git', theme: 'https://bitbucket.org/ws/theme' }) },
    gitlinks: { data, theme },
  });
  docsHead = await world.commit('ws', 'docs', { files: { '.gitmodules': gitmodules({ assets: '../assets.git' }), 'index.md': '# Docs\n' }, gitlinks: { assets } });
  superHead = await world.commit('ws', 'super', {
    files: { '.gitmodules': gitmodules({ lib: '../lib.git', docs: 'https://bitbucket.org/ws/docs.git' }) },
    gitlinks: { lib, docs: docsHead },
  });
  await world.commit('ws', 'leaky', { files: { '.gitmodules': gitmodules({ secret: 'https://bitbucket.org/ws/secret.git' }) }, gitlinks: { secret } });
  await world.commit('ws', 'odd', {
    files: { '.gitmodules': gitmodules({ docs: 'https://bitbucket.org/ws/docs.git', local: dataPath }) },
    gitlinks: { docs: docsHead, local: data },
  });
  key = await world.keyPair('valohai');
  // The key is an access key on the SSH repositories only: the public ones need none.
  for (const slug of ['super', 'lib', 'data', 'leaky', 'odd']) world.directory.addKey('ws', slug, key.publicText);
});
after(async () => {
  await stack?.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('fetch with https:// URLs on bitbucket.org', () => {
  test('public https submodules, at the top and one level down, are fetched without the key', async () => {
    const usedBefore = stack.world.directory.used.length;
    const res = await fetchWith(SUPER, 'git@bitbucket.org:ws/super.git');
    assert.deepEqual(res.errors, []);
    assert.deepEqual(res.commits.map((c) => c.identifier), [superHead]);
    const overSsh = new Set(stack.world.directory.used.slice(usedBefore).map((u) => u.slug));
    assert.deepEqual([...overSsh].sort(), ['data', 'lib', 'super'], 'the https repositories were not reached over SSH');
  });

  test('a private https submodule fails with git\'s own credential prompt failure, naming the URL', async () => {
    const res = await fetchWith(LEAKY, 'git@bitbucket.org:ws/leaky.git');
    assert.deepEqual(res.commits, []);
    assert.equal(res.errors.length, 1);
    const error = res.errors[0] ?? '';
    assert.match(error, /^Could not fetch the submodules of git@bitbucket\.org:ws\/leaky\.git at main \([0-9a-f]{12}\): /);
    assert.ok(error.includes("fatal: could not read Username for 'https://bitbucket.org': terminal prompts disabled"), error);
    assert.ok(error.includes("fatal: clone of 'https://bitbucket.org/ws/secret.git' into submodule path 'secret' failed"), error);
    noLocalPaths(res.text);
    assert.equal(stack.vh.state.commits(LEAKY).length, 0);
  });

  test('an https repository the lookup does not know is refused as before', async () => {
    const res = await fetchWith(UNKNOWN, 'https://bitbucket.org/ws/nowhere.git');
    assert.match(res.errors[0] ?? '', /transport 'https' not allowed[\s\S]*Only SSH URLs/);
  });

  test('an https superproject: public is fetched with its https-relative submodule, private asks for credentials', async () => {
    const open = await fetchWith(HTTPS_TOP, 'https://bitbucket.org/ws/docs.git');
    assert.deepEqual(open.errors, []);
    assert.deepEqual(open.commits.map((c) => c.identifier), [docsHead]);
    const closed = await fetchWith(HTTPS_TOP, 'https://bitbucket.org/ws/secret.git');
    assert.deepEqual(closed.errors, [
      "Could not fetch https://bitbucket.org/ws/secret.git: fatal: could not read Username for 'https://bitbucket.org': terminal prompts disabled",
    ]);
  });

  test('serving a public https submodule does not let a local-path submodule beside it through', async () => {
    const res = await fetchWith(ODD, 'git@bitbucket.org:ws/odd.git');
    assert.deepEqual(res.commits, []);
    assert.match(res.errors[0] ?? '', /transport 'file' not allowed/);
  });
});
