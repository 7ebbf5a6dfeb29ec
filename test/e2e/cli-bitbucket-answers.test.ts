/**
 * The built `valohai-bitbucket` CLI, against the stand-ins, words Bitbucket's 404 for a repository the
 * token's account cannot see and its 410 for a retired API as a person can act on: which repository,
 * why, and the fix.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { retired } from '../../dev/bitbucket/errors';
import { startStack, type Stack } from '../../dev/stack';
import { demoSeed } from '../../dev/seed/index';
import { runCli } from '../support/e2e';

describe('CLI: Bitbucket answers worded for the person who meets them', () => {
  let stack: Stack;
  let stateDir: string;
  let env: Record<string, string>;

  before(async () => {
    stack = await startStack({ seed: demoSeed });
    stateDir = await mkdtemp(join(tmpdir(), 'vb-cli-bb-'));
    env = { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: stateDir, VALOHAI_BITBUCKET_RETRY_BUDGET_MS: '0' };
  });
  after(async () => {
    await stack.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  beforeEach(() => stack.bitbucket.faults.clear());

  test('a private repository the token\'s account cannot see: named, "cannot see or does not exist", and the fix', async () => {
    // The demo token's account is no member of workspace umbrella: Bitbucket answers 404, not 403.
    const r = await runCli(['connect', 'umbrella/vault', '--project', 'acme/ml-models', '--dry-run'], env);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /umbrella\/vault is a Bitbucket repository you cannot see or that does not exist \(404 while reading repository umbrella\/vault\)/);
    assert.match(r.stderr, /ask an admin of umbrella\/vault for access, or check that the API token belongs to the account that has it/);
    assert.doesNotMatch(r.stderr, /403/);
  });

  test('an API Bitbucket retired: update the app, asked once', async () => {
    stack.bitbucket.faults.add({ method: 'GET', path: '/refs/branches/', status: 410, body: retired().body });
    const before = stack.bitbucket.requests.length;
    const r = await runCli(['connect', 'acme/ml-models', '--project', 'acme/ml-models', '--dry-run'], env);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /Bitbucket retired an API this app uses \(410 while reading branch "main" of acme\/ml-models\): update the app/);
    assert.equal(stack.bitbucket.requests.slice(before).filter((q) => q.path.includes('/refs/branches/')).length, 1, 'never retried');
  });
});
