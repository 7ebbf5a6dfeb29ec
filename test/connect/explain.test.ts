// What the page says about a failed fetch, from git's and ssh's real output: the Valohai stand-in's
// fetch (real git over SSH to the local git host) and git itself against a port that refuses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explainFetchError, failingUrl } from '../../src/connect/explain';
import type { KeyPair } from '../dev/ssh-host/support/git-world';
import { run } from '../dev/ssh-host/support/git-world';
import { obj, startStack, testSeed, type Stack } from '../dev/valohai/support/valohai-fixture';

const SUPER_URL = 'git@bitbucket.org:ws/super.git';
const context = { ref: 'main', sshUrl: SUPER_URL };
const ONLY_SUPER = '00000000-0000-4000-8000-000000000001';
const NOWHERE = '00000000-0000-4000-8000-000000000002';
const FOREIGN = '00000000-0000-4000-8000-000000000003';

let stack: Stack;
let workDir: string;
let onSuper: KeyPair;
let stranger: KeyPair;

async function fetchErrors(projectId: string, settings: { url?: string; key: KeyPair }): Promise<string[]> {
  const id = stack.vh.state.project(projectId)?.repository?.id;
  const set = await stack.api(`/repositories/${String(id)}/`, { method: 'PATCH', body: { url: settings.url ?? SUPER_URL, ref: 'main', ssh_private_key: settings.key.privateText } });
  assert.equal(set.status, 200, set.text);
  return obj(await stack.api(`/projects/${projectId}/fetch/`, { method: 'POST' })).errors as string[];
}

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'vb-explain-'));
  stack = await startStack(testSeed, workDir);
  const { world } = stack;
  for (const slug of ['super', 'lib']) await world.createRepo('ws', slug);
  const libHead = await world.commit('ws', 'lib', { files: { 'lib.py': 'x = 1\n' } });
  await world.commit('ws', 'super', { files: { '.gitmodules': '[submodule "lib"]\n\tpath = lib\n\turl = ../lib.git\n' }, gitlinks: { lib: libHead } });
  [onSuper, stranger] = await Promise.all([world.keyPair('on-super'), world.keyPair('stranger')]);
  world.directory.addKey('ws', 'super', onSuper.publicText);
});

after(async () => {
  await stack?.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('explaining a failed fetch from real git and ssh output', () => {
  test('a key on no repository yet (a manual verify before the key is added): the repository lacks the key, not "not on Bitbucket Cloud"', async () => {
    const [error = ''] = await fetchErrors(NOWHERE, { key: stranger });
    // ssh names the host it connected to (here the local stand-in), as "git@<host>: Permission denied".
    assert.match(error, /git@[\w.]+: Permission denied \(publickey\)/);
    assert.equal(failingUrl(error), 'git@bitbucket.org:ws/super');
    const said = explainFetchError(error, context);
    assert.match(said, /^Valohai's key was refused by Bitbucket \(git@bitbucket\.org:ws\/super\): that repository does not have the connection's access key/);
    assert.doesNotMatch(said, /not on Bitbucket Cloud|remove the submodule/);
  });

  test('the key on the superproject only: the submodule repository git failed to clone is named', async () => {
    const [error = ''] = await fetchErrors(ONLY_SUPER, { key: onSuper });
    assert.match(error, /clone of 'git@bitbucket\.org:ws\/lib\.git'/);
    const said = explainFetchError(error, context);
    assert.match(said, /^Valohai's key was refused by Bitbucket \(git@bitbucket\.org:ws\/lib\)/);
  });

  test('a repository on another host is said to be off Bitbucket Cloud', async () => {
    const [error = ''] = await fetchErrors(FOREIGN, { url: 'git@github.com:ws/super.git', key: onSuper });
    const said = explainFetchError(error, context);
    assert.match(said, /^Valohai could not fetch git@github\.com:ws\/super: it is not on Bitbucket Cloud/);
  });

  test('an SSH connection refused is a reachability problem, not a key or a host diagnosis', async () => {
    // A port that was just free: nothing listens, so the connection is refused.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    const ssh = `ssh -p ${port} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5`;
    const res = await run('git', ['ls-remote', 'git@127.0.0.1:ws/super.git'], { env: { ...process.env, GIT_SSH_COMMAND: ssh, GIT_TERMINAL_PROMPT: '0' } });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Connection refused/);
    const said = explainFetchError(`Could not fetch git@127.0.0.1:ws/super.git: ${res.stderr}`, context);
    assert.match(said, /^Valohai could not reach 127\.0\.0\.1 over SSH \(git@127\.0\.0\.1:ws\/super\): connection refused\. Nothing is wrong with the key/);
  });

  test('git\'s and ssh\'s addresses are told apart in text without a repository address', () => {
    assert.equal(failingUrl('git@bitbucket.org: Permission denied (publickey).'), undefined);
    assert.equal(failingUrl("fatal: repository 'https://bitbucket.org/ws/gone.git/' not found"), 'https://bitbucket.org/ws/gone');
    assert.match(explainFetchError('git@bitbucket.org: Permission denied (publickey).', context), /refused by Bitbucket \(git@bitbucket\.org:ws\/super\)/);
  });
});
