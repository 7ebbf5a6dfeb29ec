/**
 * `rotate --all` meeting Bitbucket's 429 part-way: two connections, and once the first is rotated the
 * token user's hour is spent (by other use, about an hour ago, so it frees within a minute). The run
 * says it waits and until when, waits (the clock it shares with the emulator moves instead of the test
 * sleeping), goes on and rotates the second, each connection once. With --no-wait it stops there,
 * saying when to run it again, and the connection it did not reach keeps its old key, which still
 * opens every repository. Through the same commander program as the CLI, in this process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { startStack } from '../../dev/stack';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { registerWorkflows, type CliIO } from '../../src/cli/commands/workflows';
import { credentialsOf, screenOf } from '../../src/cli/screen';
import { assertInvariant, DEMO_TARGETS } from '../support/e2e';
import { Lane, runInProcess, TARGETS, WORKSPACE } from '../support/fault-matrix';

const MINUTE = 60_000;
const FIRST = `${WORKSPACE}/inference-api`;
const SECOND = `${WORKSPACE}/ml-models`;
const ML_REPO_ID = demoValohaiCredentials.project.repositoryId;
const hhmm = (at: Date) => at.toISOString().slice(11, 16);

describe('CLI rotate --all after a 429 part-way', () => {
  const lane = new Lane();
  /** How far the clock the CLI and the emulator share is ahead of the real one: a wait moves it on. */
  let offset = 0;
  const now = () => new Date(Date.now() + offset);

  before(async () => {
    await lane.start();
    // Bitbucket's own allowance, as a person has it; and an emulator on the clock the run moves.
    delete lane.env.VALOHAI_BITBUCKET_REQUESTS_PER_HOUR;
    await lane.stack.close();
    lane.stack = await startStack({ bitbucketClock: now });
    lane.env = { ...lane.env, ...lane.stack.env };
    await lane.newProject();
    await lane.ensureConnected();
    const second = await runInProcess(['connect', SECOND, '--project', SECOND, '--key-type', 'ed25519'], lane.env);
    assert.equal(second.code, 0, second.stderr);
  });
  after(() => lane.close());

  /**
   * `rotate --all` in this process. Once the first connection is rotated, the rest of the admin's hour
   * is spent as it was 59.5 minutes ago: Bitbucket answers 429 until the shared clock moves on.
   */
  async function rotateAll(extra: string[]) {
    let out = '';
    let slept: number[] = [];
    let code = 0;
    let spent = false;
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...lane.env };
    const secrets = credentialsOf(env);
    const write = (t: string) => {
      out += t;
      if (!spent && out.includes(`[1/2] ${FIRST}: rotated and verified`)) {
        spent = true;
        lane.stack.bitbucket.spendHour(bb.admin.accountId, new Date(now().getTime() - 59.5 * MINUTE));
      }
    };
    const io: CliIO = {
      stdout: screenOf({ isTTY: false, write }, secrets),
      stderr: screenOf({ isTTY: false, write }, secrets),
      env,
      setExitCode: (c) => void (code = c),
      now,
      sleep: (ms) => {
        slept = [...slept, ms];
        offset += ms;
        return Promise.resolve();
      },
    };
    const program = new Command('valohai-bitbucket').exitOverride();
    registerWorkflows(program, io);
    const log = lane.stack.bitbucket.requests;
    const from = log.length;
    await program.parseAsync(['rotate', '--all', '--workspace', WORKSPACE, '--older-than', '0d', ...extra], { from: 'user' });
    assert.ok(spent, `the first connection was rotated:\n${out}`);
    const keyWrites = (slug: string, methods: string[]) =>
      log.slice(from).filter((r) => methods.includes(r.method) && r.status < 300 && r.path.startsWith(`/2.0/repositories/${WORKSPACE}/${slug}/deploy-keys`)).length;
    return {
      out,
      code,
      slept,
      added: (slug: string) => keyWrites(slug, ['POST']),
      changed: (slug: string) => keyWrites(slug, ['POST', 'PUT', 'DELETE']),
      tooMany: log.slice(from).filter((r) => r.status === 429).length,
    };
  }

  const ledgerWait = () => {
    const name = `token-hour-${createHash('sha256').update(bb.admin.email).digest('hex').slice(0, 32)}.json`;
    const until = (JSON.parse(readFileSync(join(lane.stateDir, name), 'utf8')) as { backoffUntil?: string | null }).backoffUntil;
    assert.ok(until, 'the ledger keeps the wait');
    return new Date(until);
  };

  test('waits after the 429, says until when, goes on, and rotates every connection once', async () => {
    const before = { first: lane.stack.valohai.state.keyFor(lane.project.repositoryId), second: lane.stack.valohai.state.keyFor(ML_REPO_ID) };
    const r = await rotateAll(['--json']);
    assert.equal(r.code, 0, r.out);
    assert.ok(r.tooMany > 0, 'Bitbucket answered 429');
    assert.match(r.out, /\[2\/2\] acme\/ml-models: Bitbucket answered 429 \(too many requests\); nothing of it changed, it is tried again after the wait\./);
    const waited = /Waiting until about (\d\d:\d\d) UTC after Bitbucket answered 429 \(too many requests\), then going on with acme\/ml-models/.exec(r.out);
    assert.ok(waited, r.out);
    assert.equal(waited[1], hhmm(ledgerWait()), 'until the end of the wait the 429 started');
    assert.deepEqual(r.slept.length, 1, r.out);
    assert.ok(r.slept[0]! > 0 && r.slept[0]! <= MINUTE, `a first 429 waits at most a minute: ${r.slept[0]}`);
    assert.match(r.out, /Going on at about \d\d:\d\d UTC\./);

    const doc = JSON.parse(r.out.slice(r.out.indexOf('{\n'))) as { rotated: { repository: string; outcome: string }[] };
    assert.deepEqual(doc.rotated, [
      { repository: FIRST, outcome: 'done' },
      { repository: SECOND, outcome: 'done' },
    ]);
    // One new key per connection on each repository it covers: nothing rotated twice.
    const covering = (slug: string) => [TARGETS, DEMO_TARGETS].filter((t) => t.includes(slug)).length;
    for (const slug of new Set([...TARGETS, ...DEMO_TARGETS])) assert.equal(r.added(slug), covering(slug), `keys added on ${slug}`);
    assert.equal(r.out.split(`rotating ${SECOND}`).length - 1, 1, `${SECOND} was rotated once`);
    assert.notEqual(lane.stack.valohai.state.keyFor(lane.project.repositoryId), before.first);
    assert.notEqual(lane.stack.valohai.state.keyFor(ML_REPO_ID), before.second);
    await assertInvariant(lane.stack, lane.project.repositoryId, WORKSPACE, TARGETS);
    await assertInvariant(lane.stack, ML_REPO_ID, WORKSPACE, DEMO_TARGETS);
  });

  test('--no-wait stops at the 429 saying when to run it again; the connection not reached keeps its working key', async () => {
    // Past the last wait, so this run meets Bitbucket with the hour free again.
    offset += 2 * MINUTE;
    const before = {
      first: lane.stack.valohai.state.keyFor(lane.project.repositoryId),
      second: lane.stack.valohai.state.keyFor(ML_REPO_ID),
    };
    const r = await rotateAll(['--no-wait']);
    assert.equal(r.code, 1, r.out);
    assert.deepEqual(r.slept, [], 'nothing waited');
    const stopped = /Stopping before acme\/ml-models: it has to wait after Bitbucket answered 429 \(too many requests\)\. Run the same command again after about (\d\d:\d\d) UTC; it goes on with the keys not yet rotated\./.exec(r.out);
    assert.ok(stopped, r.out);
    assert.match(r.out, /\[2\/2\] acme\/ml-models: Bitbucket answered 429 \(too many requests\); nothing of it changed\.\n/, 'not promised a retry it will not get');
    assert.equal(stopped[1], hhmm(ledgerWait()));
    assert.doesNotMatch(r.out, /\n\s+at /, 'no stack trace');

    assert.notEqual(lane.stack.valohai.state.keyFor(lane.project.repositoryId), before.first, 'the first was rotated');
    assert.equal(lane.stack.valohai.state.keyFor(ML_REPO_ID), before.second, 'Valohai keeps the old key of the second');
    assert.equal(r.changed('ml-models'), 0, 'no key added to or removed from acme/ml-models');
    // The old key still opens every repository of the second connection.
    await assertInvariant(lane.stack, ML_REPO_ID, WORKSPACE, DEMO_TARGETS);
    await assertInvariant(lane.stack, lane.project.repositoryId, WORKSPACE, TARGETS);
  });
});
