/**
 * The CLI's count of its API token's hour, as it ships (dist/cli.js) against the stand-ins: a ledger per
 * token user in the state folder (owner-only), counting every request a command sends; two commands'
 * counts add up, also when they run at once; a plan that does not fit is refused before anything
 * changes, saying when it fits; a 429 without Retry-After is asked again once, and a short command
 * says when to try again; the audit waits the backoff (1, then 2 minutes) and goes on (in this process,
 * through the same commander program, with a clock that moves when it waits).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { startStack } from '../../dev/stack';
import { demoBitbucketCredentials } from '../../dev/seed/index';
import { registerAudit } from '../../src/cli/commands/audit';
import { credentialsOf, screenOf, type CliIO } from '../../src/cli/screen';
import { runCli } from '../support/e2e';
import { Lane, WORKSPACE } from '../support/fault-matrix';

const REPO = `${WORKSPACE}/inference-api`;
const MINUTE = 60_000;
const ledgerName = (email: string) => `token-hour-${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32)}.json`;

interface Hour {
  minutes: Record<string, { i: number; u: number }>;
  backoffUntil?: string | null;
}

function ledger(dir: string): { path: string; hour: Hour | undefined; total: number } {
  const path = join(dir, ledgerName(demoBitbucketCredentials.admin.email));
  let hour: Hour | undefined;
  try {
    hour = JSON.parse(readFileSync(path, 'utf8')) as Hour;
  } catch {
    hour = undefined;
  }
  const total = Object.values(hour?.minutes ?? {}).reduce((n, s) => n + s.i + s.u, 0);
  return { path, hour, total };
}

/** Spent 10 minutes ago in the tests' ledger: room for a rotation's reads, not for its writes. */
const SPENT = 985;
const hhmm = (at: Date) => at.toISOString().slice(11, 16);

describe('CLI: the API token hour, counted in the state folder', () => {
  const lane = new Lane();
  before(async () => {
    await lane.start();
    await lane.newProject();
    await lane.ensureConnected();
    await rm(ledger(lane.stateDir).path, { force: true });
  });
  after(() => lane.close());

  test('every request of a command is counted in an owner-only file; two commands add up, also at once', async () => {
    const log = lane.stack.bitbucket.requests;
    log.length = 0;
    const status = await runCli(['status', REPO, '--project', `acme/${lane.project.name}`], lane.env);
    assert.equal(status.code, 0, status.stderr);
    const first = ledger(lane.stateDir);
    assert.ok(log.length > 0);
    assert.equal(first.total, log.length, 'each request the emulator answered is counted, no more');
    const mode = statSync(first.path).mode & 0o777;
    assert.equal(mode, 0o600, `the ledger is readable by its owner only (mode ${mode.toString(8)})`);

    const audit = await runCli(['audit', WORKSPACE, '--json'], lane.env);
    assert.equal(audit.code, 0, audit.stderr);
    assert.equal(ledger(lane.stateDir).total, log.length, 'the second command adds its own to the first');
    assert.match(audit.stderr, /This audit will send about \d+ Bitbucket requests with your API token \(about 1,000 an hour are allowed; the app and other tools using the same account count too\)\. \d+ are left this hour by this computer's count\./);
    assert.doesNotThrow(() => JSON.parse(audit.stdout), 'the cost line stays off stdout with --json');

    const [a, b] = await Promise.all([runCli(['audit', WORKSPACE, '--json'], lane.env), runCli(['audit', WORKSPACE, '--json'], lane.env)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(ledger(lane.stateDir).total, log.length, 'two commands at once: neither overwrote the other');
  });

  test('a plan that does not fit what is left is refused before anything changes, saying when it fits', async () => {
    const now = new Date();
    const spentAt = Math.floor(now.getTime() / MINUTE) - 10;
    const path = ledger(lane.stateDir).path;
    const spend = (n: number) => writeFileSync(path, JSON.stringify({ minutes: { [spentAt]: { i: n, u: 0 } }, backoffUntil: null, backoffStep: 0 }), { mode: 0o600 });
    spend(998);
    const fits = hhmm(new Date((spentAt + 60) * MINUTE));
    const keysBefore = JSON.stringify(['inference-api', 'datasets', 'training-lib', 'feature-store'].map((s) => lane.stack.bitbucket.state.accessKeys(WORKSPACE, s)));
    const log = lane.stack.bitbucket.requests;
    try {
      log.length = 0;
      const audit = await runCli(['audit', WORKSPACE], lane.env);
      assert.equal(audit.code, 1, audit.stderr);
      assert.match(audit.stderr, new RegExp(`Not started: this audit needs about \\d+ Bitbucket requests, and by this computer's count your API token has \\d+ left this hour\\. It fits at about ${fits} UTC`));
      assert.match(audit.stderr, /--yes/);
      assert.equal(log.filter((r) => r.path.includes('/deploy-keys')).length, 0, 'no key listing was sent');
      assert.doesNotMatch(audit.stderr, /\n\s+at /, 'no stack trace');

      log.length = 0;
      const all = await runCli(['rotate', '--all', '--workspace', WORKSPACE], lane.env);
      assert.equal(all.code, 1, all.stderr);
      assert.match(all.stderr, new RegExp(`Not started: this rotation needs about \\d+ Bitbucket requests.*It fits at about ${fits} UTC`));
      assert.equal(log.length, 0, 'rotate --all sent nothing');

      // One rotation: the engine weighs its plan against the same count, before any key is added.
      spend(SPENT);
      log.length = 0;
      const one = await runCli(['rotate', REPO, '--project', `acme/${lane.project.name}`], lane.env);
      assert.equal(one.code, 1, one.stderr);
      assert.match(one.stderr, new RegExp(`Nothing was changed: this needs about \\d+ more Bitbucket requests, but the API token has \\d+ left this hour.*at about ${fits} UTC`, 's'));
      assert.equal(log.filter((r) => r.method !== 'GET').length, 0, 'nothing was added or removed');
      assert.equal(JSON.stringify(['inference-api', 'datasets', 'training-lib', 'feature-store'].map((s) => lane.stack.bitbucket.state.accessKeys(WORKSPACE, s))), keysBefore);
      assert.equal(ledger(lane.stateDir).total, SPENT + log.length, 'what the refused commands did send is counted');
    } finally {
      await rm(path, { force: true });
    }
  });

  test('the audit waits after a 429 without Retry-After (1, then 2 minutes), says when it goes on, and ends whole', async () => {
    const whole = await runCli(['audit', WORKSPACE, '--json', '--restart'], lane.env);
    const expected = JSON.parse(whole.stdout) as { repositories: number; keys: { repository: string; id: number }[] };
    const faults = lane.stack.bitbucket.faults;
    const rule = faults.add({ method: 'GET', path: '/deploy-keys', after: 3, status: 429, body: 'Rate limit for this resource has been exceeded.', headers: { 'content-type': 'text/plain' } });
    const start = Date.now();
    let offset = 0;
    const slept: number[] = [];
    let out = '';
    let err = '';
    let code = 0;
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...lane.env };
    const io: CliIO = {
      stdout: screenOf({ isTTY: false, write: (t) => void (out += t) }, credentialsOf(env)),
      stderr: screenOf({ isTTY: false, write: (t) => void (err += t) }, credentialsOf(env)),
      env,
      setExitCode: (c) => void (code = c),
      now: () => new Date(start + offset),
      sleep: (ms) => {
        slept.push(ms);
        offset += ms;
        // Bitbucket lets the user in again after the second wait.
        if (slept.length === 2) faults.remove(rule);
        return Promise.resolve();
      },
    };
    const program = new Command('valohai-bitbucket').exitOverride();
    registerAudit(program, io);
    try {
      await program.parseAsync(['audit', WORKSPACE, '--json', '--restart'], { from: 'user' });
    } finally {
      faults.remove(rule);
    }
    assert.equal(code, 0, err);
    assert.equal(slept.length, 2, err);
    assert.ok(slept[0]! > 59_000 && slept[0]! <= MINUTE, `first wait about a minute: ${slept[0]}`);
    assert.ok(slept[1]! > 119_000 && slept[1]! <= 2 * MINUTE, `second wait about two minutes: ${slept[1]}`);
    assert.match(err, /Bitbucket's rate limit \(429, too many requests\) stopped the audit after \d+ of \d+ repositories: waiting until \d\d:\d\d UTC, then going on/);
    assert.match(err, /Going on at \d\d:\d\d UTC: \d+ repositories left to read/);
    const doc = JSON.parse(out) as typeof expected;
    const ids = (d: typeof expected) => d.keys.map((k) => `${k.repository}#${k.id}`).sort();
    assert.equal(doc.repositories, expected.repositories);
    assert.deepEqual(ids(doc), ids(expected), 'the same keys as an audit in one go');
    assert.ok(ledger(lane.stateDir).hour?.backoffUntil, 'the wait is kept in the ledger, for the next command');
  });
});

describe('CLI: Bitbucket answers 429 as it does to API tokens', () => {
  const lane = new Lane();
  before(async () => {
    await lane.start();
    // The same world, but Bitbucket allows this user only a few requests an hour.
    await lane.stack.close();
    const small = await startStack({ rateLimitPerHour: 4 });
    lane.stack = small;
    lane.env = { ...lane.env, ...small.env };
    await lane.newProject();
  });
  after(() => lane.close());

  test('a short command stops with when to try again, no stack trace, and asks each 429 again only once', async () => {
    const r = await runCli(['status', REPO, '--project', `acme/${lane.project.name}`], lane.env);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /Bitbucket answered 429 \(too many requests\) to your API token: try again after about \d\d:\d\d UTC/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const limited = lane.stack.bitbucket.requests.filter((q) => q.status === 429);
    assert.ok(limited.length > 0);
    const perPath = new Map<string, number>();
    for (const q of limited) perPath.set(q.path, (perPath.get(q.path) ?? 0) + 1);
    for (const [path, n] of perPath) assert.ok(n <= 2, `${path} was asked ${n} times after 429s`);
    const hour = ledger(lane.stateDir);
    assert.equal(hour.total, lane.stack.bitbucket.requests.length);
    const until = Date.parse(hour.hour?.backoffUntil ?? '');
    assert.ok(until > Date.now() && until <= Date.now() + MINUTE, 'a first 429 starts a one-minute wait');

    const audit = await runCli(['audit', WORKSPACE, '--no-wait'], lane.env);
    assert.equal(audit.code, 1, audit.stderr);
    assert.match(audit.stderr, /(stopped the audit|429)/);
    assert.doesNotMatch(audit.stderr, /\n\s+at /);
  });
});
