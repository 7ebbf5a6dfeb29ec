/**
 * The CLI's --ref follows the settings pages' rule: a branch by name or as refs/heads/<branch>; a
 * commit id or a tag is refused by what it is, before anything is read or changed. The real
 * `valohai-bitbucket` process runs against the stand-ins.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startStack, type Stack } from '../../dev/stack';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { runCli } from '../support/e2e';

const PROJECT = 'acme/ml-models';
const REPO_ID = demoValohaiCredentials.project.repositoryId;
const run = promisify(execFile);

describe('CLI --ref', () => {
  let stack: Stack;
  let stateDir: string;
  let env: Record<string, string>;

  before(async () => {
    stack = await startStack();
    stateDir = await mkdtemp(join(tmpdir(), 'vb-cli-ref-'));
    env = { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: stateDir };
  });
  after(async () => {
    await stack.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  const head = async (): Promise<string> => {
    const repo = stack.bitbucket.state.findRepo('acme', 'ml-models');
    assert.ok(repo);
    return (await run('git', ['rev-parse', 'refs/heads/main'], { cwd: repo.path, encoding: 'utf8' })).stdout.trim();
  };

  test('a commit id and a tag are refused by name (exit 2), and nothing is read or changed', async () => {
    const sha = await head();
    const before = stack.bitbucket.requests.length;
    const commit = await runCli(['connect', 'acme/ml-models', '--project', PROJECT, '--ref', sha, '--dry-run'], env);
    assert.equal(commit.code, 2, commit.stderr);
    assert.match(commit.stderr, new RegExp(`--ref "${sha}" is a commit id: enter the branch that holds it, e\\.g\\. main`));
    const tag = await runCli(['connect', 'acme/ml-models', '--project', PROJECT, '--ref', 'refs/tags/v1.0'], env);
    assert.equal(tag.code, 2, tag.stderr);
    assert.match(tag.stderr, /--ref "refs\/tags\/v1\.0" names a tag: enter a branch/);
    const other = await runCli(['connect', 'acme/ml-models', '--project', PROJECT, '--ref', 'refs/remotes/origin/main'], env);
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /must be a branch, e\.g\. main or refs\/heads\/main/);
    assert.equal(stack.bitbucket.requests.length, before, 'no request was made');
    assert.equal(stack.valohai.state.hasKey(REPO_ID), false, 'Valohai got no key');
  });

  test('refs/heads/main is the branch main: connect fetches it and verifies its head', async () => {
    const r = await runCli(['connect', 'acme/ml-models', '--project', PROJECT, '--ref', 'refs/heads/main', '--key-type', 'ed25519', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { ref: string; verified: boolean; headCommit: string };
    assert.equal(result.ref, 'main');
    assert.equal(result.verified, true);
    assert.equal(result.headCommit, await head());
    assert.equal(stack.valohai.state.findProject(demoValohaiCredentials.project.id)?.repository?.ref, 'main', 'Valohai fetches the branch by its name');
  });
});
