/**
 * One Valohai project, one repository, through the CLI process: connect reads the project's repository
 * settings before it writes them, so a project that fetches another repository is refused (exit 1,
 * nothing changed) unless `--move-project` says the move is meant. The connection left behind then
 * neither rotates the project back nor clears Valohai's key when it disconnects.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '../../dev/stack';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { assertInvariant, runCli } from '../support/e2e';

const PROJECT = 'acme/ml-models';
const REPO_ID = demoValohaiCredentials.project.repositoryId;

describe('CLI: a Valohai project that fetches another repository', () => {
  let stack: Stack;
  let stateDir: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, env);
  const url = () => stack.valohai.state.repository(REPO_ID)?.url;
  const keysOn = (slug: string) => stack.bitbucket.state.accessKeys('acme', slug);

  before(async () => {
    stack = await startStack();
    stateDir = await mkdtemp(join(tmpdir(), 'vb-cli-move-'));
    env = { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: stateDir };
    const r = await cli('connect', 'acme/ml-models', '--project', PROJECT, '--key-type', 'ed25519', '--json');
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await stack?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  test('connect and its dry run refuse it, name what it fetches, and change nothing', async () => {
    // docs-site is a public https submodule of ml-models: git fetches it without a key, so it holds
    // none, and a refused connect must not add one.
    const keysBefore = keysOn('docs-site').map((k) => k.id);
    for (const extra of [[], ['--dry-run']]) {
      const r = await cli('connect', 'acme/docs-site', '--project', PROJECT, '--key-type', 'ed25519', ...extra);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Nothing was changed: Valohai project ml-models fetches git@bitbucket\.org:acme\/ml-models\.git/);
      assert.match(r.stderr, /--move-project/);
      assert.equal(url(), 'git@bitbucket.org:acme/ml-models.git');
      assert.deepEqual(keysOn('docs-site').map((k) => k.id), keysBefore);
    }
    await assertInvariant(stack, REPO_ID);
  });

  test('--move-project moves it; the old connection no longer rotates it back', async () => {
    const moved = await cli('connect', 'acme/docs-site', '--project', PROJECT, '--key-type', 'ed25519', '--move-project', '--json');
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(JSON.parse(moved.stdout).verified, true);
    assert.equal(url(), 'git@bitbucket.org:acme/docs-site.git');

    const rotate = await cli('rotate', 'acme/ml-models', '--project', PROJECT, '--key-type', 'ed25519');
    assert.equal(rotate.code, 1);
    assert.match(rotate.stderr, /Valohai project ml-models now fetches git@bitbucket\.org:acme\/docs-site\.git, not this repository/);
    assert.equal(url(), 'git@bitbucket.org:acme/docs-site.git');

    const status = await cli('status', 'acme/ml-models', '--project', PROJECT, '--json');
    const s = JSON.parse(status.stdout);
    assert.equal(s.valohai.inSync, false);
    assert.ok(s.warnings.some((w: { code: string }) => w.code === 'project-moved'));
  });

  test("disconnecting the old connection removes its keys and leaves Valohai's settings alone", async () => {
    const fingerprint = stack.valohai.state.repository(REPO_ID)?.sshKeyFingerprint;
    assert.ok(fingerprint);
    const r = await cli('disconnect', 'acme/ml-models', '--project', PROJECT, '--yes');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /now fetches git@bitbucket\.org:acme\/docs-site\.git: its settings are left as they are/);
    for (const slug of ['ml-models', 'datasets', 'training-lib', 'feature-store']) assert.deepEqual(keysOn(slug), [], `no key left on acme/${slug}`);
    // On docs-site only the moved connection's key is left.
    assert.equal(keysOn('docs-site').length, 1);
    assert.equal(stack.valohai.state.repository(REPO_ID)?.sshKeyFingerprint, fingerprint);
    // Valohai still fetches acme/docs-site with the moved connection's key (real git over SSH).
    await assertInvariant(stack, REPO_ID, 'acme', ['docs-site']);
  });
});
