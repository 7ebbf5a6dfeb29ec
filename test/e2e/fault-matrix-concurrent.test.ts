/**
 * Two runs at once, through the CLI process against the stand-ins: two connects end in one connection,
 * and fetching with whatever key Valohai holds never fails while rotate runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertInvariant, gitReach, runCli } from '../support/e2e';
import { checkClean, Lane, TARGETS, WORKSPACE } from '../support/fault-matrix';

describe('fault matrix: runs at the same time, through the CLI process', { concurrency: 1 }, () => {
  const lane = new Lane();
  before(async () => {
    await lane.start();
    await lane.newProject();
  });
  after(() => lane.close());

  test('two connects started at once end in one connection: one key per target, Valohai holding it', async () => {
    const args = [...lane.args('connect'), '--json'];
    const runs = await Promise.all([runCli(args, lane.env), runCli(args, lane.env)]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const held = await assertInvariant(lane.stack, lane.project.repositoryId, WORKSPACE, TARGETS);
    assert.ok(held, 'Valohai holds a key');
    for (const slug of TARGETS) assert.deepEqual(lane.keys(slug).map((k) => k.key), [held], `${slug} holds exactly Valohai's key`);
    // One run made the connection; the other (after waiting for the lock) found it in place.
    const statuses = runs
      .map((r) => [...new Set((JSON.parse(r.stdout) as { accessKeys: { status: string }[] }).accessKeys.map((k) => k.status))].join())
      .sort();
    assert.deepEqual(statuses, ['added', 'present']);
  });

  test('during rotate, fetching with the key Valohai holds at that moment never fails', async () => {
    await lane.ensureConnected();
    const repositoryId = lane.project.repositoryId;
    const before = lane.stack.valohai.state.repository(repositoryId)?.sshKeyFingerprint;
    let finished = false;
    const rotation = runCli(lane.args('rotate'), lane.env).finally(() => {
      finished = true;
    });
    let fetches = 0;
    const failures: string[] = [];
    while (!finished) {
      const key = lane.stack.valohai.state.keyFor(repositoryId);
      if (!key) {
        failures.push('Valohai held no key');
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      try {
        await gitReach(lane.stack, key, WORKSPACE, TARGETS);
        fetches += 1;
      } catch (err) {
        // A key read just before Valohai switched may be retired while the fetch runs; only a key
        // that Valohai still held after the failure shows a real gap.
        if (lane.stack.valohai.state.keyFor(repositoryId) === key) failures.push(err instanceof Error ? err.message : String(err));
      }
    }
    const run = await rotation;
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(failures, []);
    assert.ok(fetches > 0, 'at least one fetch ran during the rotation');
    assert.notEqual(lane.stack.valohai.state.repository(repositoryId)?.sshKeyFingerprint, before, 'the key changed');
    await checkClean(lane, 'rotate', 'after rotation under load');
  });
});
