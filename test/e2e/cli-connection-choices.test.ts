/**
 * The connection's choices are part of its record, as the built CLI keeps it: a connection made with
 * `--no-submodules` stays without them through `check --repair`, `rotate` and `rotate --all`, and a
 * submodule pushed since is reported as new, never given the key by a repair (a check restores, and
 * never extends: `connect` again, which is a person choosing, is the way to add it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startStack, type Stack } from '../../dev/stack';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { runCli } from '../support/e2e';

const SUBMODULES = ['datasets', 'training-lib'];

describe('CLI: a connection made without submodules keeps that choice', () => {
  let stack: Stack;
  let stateDir: string;
  let env: Record<string, string>;
  let project = '';

  const keysOn = (slug: string) => stack.bitbucket.state.accessKeys('acme', slug).map((k) => k.key.split(/\s+/).slice(0, 2).join(' '));
  const recorded = (): { publicKey: string; submodules?: boolean; targets: { repository: string }[] } => {
    const text = readFileSync(join(stateDir, 'connections.json'), 'utf8');
    const records = Object.values(JSON.parse(text) as Record<string, { repository: string; publicKey: string; submodules?: boolean; targets: { repository: string }[] }>);
    const record = records.find((r) => r.repository === 'acme/ml-models');
    assert.ok(record, 'a record of acme/ml-models');
    return record;
  };

  before(async () => {
    stack = await startStack({});
    stateDir = await mkdtemp(join(tmpdir(), 'vb-choices-state-'));
    env = { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: join(stateDir, 'state') };
    stateDir = join(stateDir, 'state');
    const res = await fetch(`${stack.valohai.apiUrl}/projects/`, {
      method: 'POST',
      headers: { Authorization: `Token ${demoValohaiCredentials.admin.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'models-only', owner: 'acme' }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    project = 'acme/models-only';
  });
  after(async () => {
    await stack?.close();
    if (stateDir) await rm(join(stateDir, '..'), { recursive: true, force: true });
  });

  test('connect --no-submodules records the choice, and puts the key on the repository alone', async () => {
    const r = await runCli(['connect', 'acme/ml-models', '--project', project, '--no-submodules', '--key-type', 'ed25519', '--json'], env);
    // Valohai's fetch follows the submodules, which hold no key: connected, not verified (exit 3).
    assert.ok(r.code === 0 || r.code === 3, r.stderr);
    const record = recorded();
    assert.equal(record.submodules, false);
    assert.deepEqual(record.targets.map((t) => t.repository), ['acme/ml-models']);
    for (const slug of SUBMODULES) assert.ok(!keysOn(slug).includes(record.publicKey), `${slug} has no key`);
  });

  test('check --repair puts the key on no submodule repository and never says it is "back" where it never was', async () => {
    const r = await runCli(['check', 'acme/ml-models', '--project', project, '--repair'], env);
    assert.doesNotMatch(r.stdout, /back on acme\/(datasets|training-lib)/);
    for (const slug of SUBMODULES) assert.ok(!keysOn(slug).includes(recorded().publicKey), `${slug} has no key`);
  });

  test('rotate (one connection, no flag) and rotate --all rotate the repository alone', async () => {
    const before = recorded().publicKey;
    const one = await runCli(['rotate', 'acme/ml-models', '--project', project, '--json'], env);
    assert.ok(one.code === 0 || one.code === 3, one.stderr);
    const afterOne = recorded();
    assert.notEqual(afterOne.publicKey, before);
    assert.equal(afterOne.submodules, false);
    for (const slug of SUBMODULES) assert.ok(!keysOn(slug).includes(afterOne.publicKey), `${slug} has no key after rotate`);
    assert.equal(afterOne.publicKey.split(' ')[0], 'ssh-ed25519', 'the recorded key type is kept');

    const all = await runCli(['rotate', '--all', '--workspace', 'acme', '--json'], env);
    assert.ok([0, 3].includes(all.code), all.stderr);
    const afterAll = recorded();
    assert.notEqual(afterAll.publicKey, afterOne.publicKey);
    assert.deepEqual(afterAll.targets.map((t) => t.repository), ['acme/ml-models']);
    for (const slug of SUBMODULES) assert.ok(!keysOn(slug).includes(afterAll.publicKey), `${slug} has no key after rotate --all`);
  });
});

describe('CLI: check --repair restores, and never extends', () => {
  let stack: Stack;
  let root: string;
  let env: Record<string, string>;

  before(async () => {
    stack = await startStack({});
    root = await mkdtemp(join(tmpdir(), 'vb-repair-state-'));
    env = { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: join(root, 'state') };
    const res = await fetch(`${stack.valohai.apiUrl}/projects/`, {
      method: 'POST',
      headers: { Authorization: `Token ${demoValohaiCredentials.admin.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'serving', owner: 'acme' }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const r = await runCli(['connect', 'acme/inference-api', '--project', 'acme/serving', '--key-type', 'ed25519'], env);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await stack?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('a submodule pushed since gets no key from --repair; the check names it and the way to add it', async () => {
    const path = (slug: string) => stack.bitbucket.state.findRepo('acme', slug)?.path ?? '';
    const gitmodules = execFileSync('git', ['--git-dir', path('inference-api'), 'show', 'main:.gitmodules'], { encoding: 'utf8' });
    const head = execFileSync('git', ['--git-dir', path('research-notebooks'), 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
    await stack.bitbucket.state.pushCommit('acme', 'inference-api', {
      branch: 'main',
      message: 'Vendor the notebooks',
      files: { '.gitmodules': `${gitmodules}[submodule "notebooks"]\n\tpath = notebooks\n\turl = ../research-notebooks.git\n` },
      gitlinks: { notebooks: head },
    });
    const before = stack.bitbucket.state.accessKeys('acme', 'research-notebooks').length;
    const r = await runCli(['check', 'acme/inference-api', '--project', 'acme/serving', '--repair', '--json'], env);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as { findings: { code: string; repository?: string; message: string }[]; repaired: unknown[] };
    assert.deepEqual(doc.repaired, []);
    const found = doc.findings.find((f) => f.code === 'new-target');
    assert.equal(found?.repository, 'acme/research-notebooks');
    assert.match(found?.message ?? '', /connecting again/);
    assert.equal(stack.bitbucket.state.accessKeys('acme', 'research-notebooks').length, before, 'no key added');
  });
});
