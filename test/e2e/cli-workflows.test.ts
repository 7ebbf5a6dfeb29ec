/**
 * The CLI end to end against the stand-ins: the real `valohai-bitbucket` process talks HTTP to the
 * Bitbucket and Valohai emulators, and Valohai's fetch runs real git over real SSH.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '../../dev/stack';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { ValohaiClient } from '../../src/valohai/index';
import { assertInvariant, runCli, type CliRun } from '../support/e2e';

const PROJECT = 'acme/ml-models';
const REPO_ID = demoValohaiCredentials.project.repositoryId;

describe('CLI workflows on the demo seed', () => {
  let stack: Stack;
  let stateDir: string;
  let env: Record<string, string>;
  const runs: CliRun[] = [];
  const cli = async (...args: string[]) => {
    const r = await runCli(args, env);
    runs.push(r);
    return r;
  };
  const labelled = (slug: string) => stack.bitbucket.state.accessKeys('acme', slug);

  before(async () => {
    stack = await startStack();
    stateDir = await mkdtemp(join(tmpdir(), 'vb-cli-state-'));
    env = { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: stateDir };
  });
  after(async () => {
    await stack.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  test('missing credentials exit 2 naming the variable and where to make the token', async () => {
    const r = await runCli(['connect', 'acme/ml-models', '--project', PROJECT], { VALOHAI_TOKEN: 'x' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /BITBUCKET_EMAIL is not set/);
    assert.match(r.stderr, /id\.atlassian\.com\/manage-profile\/security\/api-tokens/);
    assert.match(r.stderr, /write:ssh-key:bitbucket/);
    const bad = await runCli(['connect', 'not-a-repo', '--project', PROJECT], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /<workspace>\/<repo>/);
  });

  test('--dry-run shows the plan and changes nothing', async () => {
    const r = await cli('connect', 'acme/ml-models', '--project', PROJECT, '--dry-run', '--json');
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.deepEqual(
      plan.accessKeys.map((k: { repository: string; status: string }) => [k.repository, k.status]).sort(),
      // acme/docs-site is public and named by an https URL: git fetches it without a key.
      ['acme/datasets', 'acme/feature-store', 'acme/ml-models', 'acme/training-lib'].map((n) => [n, 'planned']),
    );
    assert.equal(labelled('ml-models').length, 0);
    assert.equal(stack.valohai.state.hasKey(REPO_ID), false);
  });

  test('connect registers one key everywhere, Valohai fetches over SSH and sees the head commit', async () => {
    const r = await cli('connect', 'acme/ml-models', '--project', PROJECT, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.repository, 'acme/ml-models');
    assert.equal(out.sshUrl, 'git@bitbucket.org:acme/ml-models.git');
    assert.equal(out.ref, 'main');
    assert.equal(out.keyType, 'rsa');
    assert.equal(out.verified, true);
    assert.equal(out.valohai.fetchedCommit, out.headCommit);
    assert.match(out.fingerprint, /^SHA256:/);
    for (const slug of ['ml-models', 'datasets', 'training-lib', 'feature-store']) {
      const entry = out.accessKeys.find((k: { repository: string }) => k.repository === `acme/${slug}`);
      assert.equal(entry?.status, 'added', `key on acme/${slug}`);
      assert.equal(labelled(slug).length, 1);
    }
    // The public docs-site, fetched over https without credentials: no key, nothing to change.
    assert.ok(!out.warnings.some((w: { code: string }) => w.code === 'https-submodule'), JSON.stringify(out.warnings));
    assert.ok(!out.accessKeys.some((k: { repository: string }) => k.repository === 'acme/docs-site'));
    assert.equal(labelled('docs-site').length, 0);
    assert.equal(stack.valohai.state.repository(REPO_ID)?.sshKeyFingerprint, out.fingerprint);
    await assertInvariant(stack, REPO_ID);
  });

  test('connect again changes nothing and still exits 0', async () => {
    const before = stack.valohai.requests.filter((q) => q.method === 'PATCH').length;
    const keysBefore = labelled('ml-models').map((k) => k.id);
    const r = await cli('connect', 'acme/ml-models', '--project', PROJECT, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.accessKeys.every((k: { status: string }) => k.status === 'present'));
    assert.equal(out.verified, true);
    assert.deepEqual(labelled('ml-models').map((k) => k.id), keysBefore);
    assert.equal(stack.valohai.requests.filter((q) => q.method === 'PATCH').length, before);
  });

  test('status shows the key on every repository and Valohai in step with Bitbucket', async () => {
    const r = await cli('status', 'acme/ml-models', '--project', PROJECT, '--json');
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.connected, true);
    assert.equal(s.keyAgeDays, 0);
    assert.equal(s.valohai.inSync, true);
    const ml = s.repositories.find((x: { repository: string }) => x.repository === 'acme/ml-models');
    assert.ok(ml.key.lastUsed, 'the fetch used the key');
    assert.deepEqual(ml.orphans, []);
  });

  test('a push, then sync: Valohai fetches the new commit', async () => {
    const sha = await stack.bitbucket.state.pushCommit('acme', 'ml-models', {
      branch: 'main',
      message: 'Tune the learning rate',
      files: { 'train.py': 'print("lr=0.01")\n' },
    });
    const r = await cli('sync', '--project', PROJECT, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).newCommits.includes(sha));
  });

  test('rotate replaces the key everywhere and removes the old one only after verification', async () => {
    const oldFingerprint = stack.valohai.state.repository(REPO_ID)?.sshKeyFingerprint;
    const r = await cli('rotate', 'acme/ml-models', '--project', PROJECT, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.notEqual(out.fingerprint, oldFingerprint);
    assert.equal(out.verified, true);
    assert.equal(stack.valohai.state.repository(REPO_ID)?.sshKeyFingerprint, out.fingerprint);
    for (const slug of ['ml-models', 'datasets', 'training-lib', 'feature-store']) assert.equal(labelled(slug).length, 1);
    assert.equal(out.accessKeys.filter((k: { status: string }) => k.status === 'deleted').length, 4);
    await assertInvariant(stack, REPO_ID);
  });

  test('connect after Valohai lost the key (a disconnect stopped half way) gives it a new key and exits 0', async () => {
    // What an interrupted disconnect leaves: Valohai's key cleared first, the access keys still in place.
    const valohai = new ValohaiClient({ host: env.VALOHAI_HOST ?? '', token: env.VALOHAI_TOKEN ?? '' });
    await valohai.clearRepositoryKey(REPO_ID);
    const oldKeys = labelled('ml-models').map((k) => k.id);
    assert.equal(oldKeys.length, 1);
    const r = await cli('connect', 'acme/ml-models', '--project', PROJECT, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.verified, true);
    assert.equal(stack.valohai.state.repository(REPO_ID)?.sshKeyFingerprint, out.fingerprint);
    // The key Valohai could not use is gone once the new one is verified; one key per repository remains.
    for (const slug of ['ml-models', 'datasets', 'training-lib', 'feature-store']) assert.equal(labelled(slug).length, 1, slug);
    assert.ok(!labelled('ml-models').some((k) => oldKeys.includes(k.id)));
    await assertInvariant(stack, REPO_ID);
  });

  test('disconnect needs --yes, then clears Valohai first and removes every key', async () => {
    const refused = await cli('disconnect', 'acme/ml-models', '--project', PROJECT);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--yes/);
    const r = await cli('disconnect', 'acme/ml-models', '--project', PROJECT, '--yes', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(stack.valohai.state.hasKey(REPO_ID), false);
    for (const slug of ['ml-models', 'datasets', 'training-lib', 'feature-store', 'docs-site']) assert.equal(labelled(slug).length, 0);
    const patch = stack.valohai.requests.map((q) => q.method).lastIndexOf('PATCH');
    const firstDelete = stack.bitbucket.requests.findIndex((q) => q.method === 'DELETE');
    assert.ok(patch >= 0 && firstDelete >= 0);
  });

  test('no private key body appears in any output, log, stored file or emulator request log', async () => {
    // Every key Valohai ever held came through its repository write; the emulator kept the last one only,
    // so connect once more to have a key to look for.
    const r = await cli('connect', 'acme/ml-models', '--project', PROJECT, '--json');
    assert.equal(r.code, 0, r.stderr);
    const key = stack.valohai.state.keyFor(REPO_ID);
    assert.ok(key);
    const body = key
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    const needles = [body.slice(0, 40), body.slice(200, 240), body.slice(-40)];
    const haystacks: string[] = [];
    for (const run of runs) haystacks.push(run.stdout, run.stderr);
    haystacks.push(JSON.stringify(stack.bitbucket.requests), JSON.stringify(stack.valohai.requests));
    for (const name of await readdir(stateDir, { recursive: true })) {
      try {
        haystacks.push(await readFile(join(stateDir, name), 'utf8'));
      } catch {
        // a directory
      }
    }
    const all = haystacks.join('\n');
    for (const n of needles) assert.equal(all.includes(n), false, 'private key material leaked');
    assert.ok(all.includes('acme/ml-models'), 'the haystack is not empty');
  });
});
