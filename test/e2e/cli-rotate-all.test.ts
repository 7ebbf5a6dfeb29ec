/**
 * `valohai-bitbucket rotate --all --workspace W [--older-than Nd] [--dry-run]` as it ships: the plan
 * names each connection recorded here with its key age and request cost and changes nothing on a dry
 * run; keys younger than --older-than are left; a real run rotates every connection one after another,
 * each verified, and afterwards a real git fetch with each project's new key reaches every repository.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertInvariant, DEMO_TARGETS, runCli } from '../support/e2e';
import { Lane, TARGETS, WORKSPACE } from '../support/fault-matrix';
import { demoValohaiCredentials } from '../../dev/valohai/index';

describe('CLI rotate --all: every connection of a workspace', () => {
  const lane = new Lane();
  const ML_REPO_ID = demoValohaiCredentials.project.repositoryId;
  const keysNow = () => [...TARGETS, ...DEMO_TARGETS].map((slug) => lane.keys(slug).map((k) => k.key).join(' '));

  before(async () => {
    await lane.start();
    await lane.newProject();
    await lane.ensureConnected();
    // A second connection, made the way a person makes one.
    const second = await runCli(['connect', 'acme/ml-models', '--project', 'acme/ml-models', '--key-type', 'ed25519', '--json'], lane.env);
    assert.equal(second.code, 0, second.stderr);
  });
  after(() => lane.close());

  test('--dry-run names each connection, its key age and cost, and changes nothing', async () => {
    const before = keysNow();
    const r = await runCli(['rotate', '--all', '--workspace', WORKSPACE, '--dry-run', '--json'], lane.env);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { connections: { repository: string; keyAgeDays: number; requests: number }[]; requests: number; rotated: unknown[] };
    assert.deepEqual(plan.connections.map((c) => c.repository).sort(), ['acme/inference-api', 'acme/ml-models']);
    for (const c of plan.connections) {
      assert.equal(c.keyAgeDays, 0);
      assert.ok(c.requests > 0);
    }
    assert.equal(plan.requests, plan.connections.reduce((n, c) => n + c.requests, 0));
    assert.deepEqual(plan.rotated, []);
    assert.deepEqual(keysNow(), before, 'a dry run changes no key');
  });

  test('keys younger than --older-than are left alone', async () => {
    const before = keysNow();
    const r = await runCli(['rotate', '--all', '--workspace', WORKSPACE, '--older-than', '180d'], lane.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /nothing to rotate/);
    assert.deepEqual(keysNow(), before);
  });

  test('usage mistakes exit 2 with the fix', async () => {
    for (const args of [
      ['rotate', '--all'],
      ['rotate', '--all', '--workspace', WORKSPACE, '--older-than', 'half a year'],
      ['rotate', 'acme/ml-models', '--all', '--workspace', WORKSPACE],
      // No --project, and no connection of the repository recorded here to take it from.
      ['rotate', 'acme/datasets'],
    ]) {
      const r = await runCli(args, lane.env);
      assert.equal(r.code, 2, `${args.join(' ')}\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  test('a real run rotates every connection, each verified, and the new keys open every repository', async () => {
    const oldSuper = lane.stack.valohai.state.keyFor(lane.project.repositoryId);
    const oldMl = lane.stack.valohai.state.keyFor(ML_REPO_ID);
    const r = await runCli(['rotate', '--all', '--workspace', WORKSPACE, '--older-than', '0d', '--json'], lane.env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { rotated: { repository: string; outcome: string }[] };
    assert.deepEqual(out.rotated.map((x) => x.outcome), ['done', 'done']);
    assert.match(r.stderr, /\[1\/2\] rotating/);
    assert.notEqual(lane.stack.valohai.state.keyFor(lane.project.repositoryId), oldSuper);
    assert.notEqual(lane.stack.valohai.state.keyFor(ML_REPO_ID), oldMl);
    await assertInvariant(lane.stack, lane.project.repositoryId, WORKSPACE, TARGETS);
    await assertInvariant(lane.stack, ML_REPO_ID, WORKSPACE, DEMO_TARGETS);
  });
});
