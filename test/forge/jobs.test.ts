// Job records, the one-job-per-repository slot, stale jobs, the coalescing progress writer and the
// kv lock, over the in-memory platform with an adjustable clock.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProgressEvent } from '../../src/connect/index';
import { ResolverFailure } from '../../src/forge/errors';
import { JobProgressWriter } from '../../src/forge/jobs/progress';
import { jobView, JOB_LIFETIME_MS, loadJob, saveJob, startJob } from '../../src/forge/jobs/slots';
import { keys } from '../../src/forge/store/keys';
import { KvLock, LockBusyError } from '../../src/forge/store/lock';
import { MemoryRecordStore } from '../../dev/forge/memory-platform';
import type { JobRecord } from '../../src/forge/store/records';
import { fakeBackend, REPO, TestClock, WS } from './support/fakes';

const spec = { workspaceUuid: WS, repositoryUuid: REPO, repository: 'acme/models', accountId: 'admin', input: { kind: 'verify' as const } };

describe('one job per repository', () => {
  test('a second job while one is queued or running is refused, naming what the first does', async () => {
    const { platform } = fakeBackend(undefined, { holdQueue: true });
    const first = await startJob(platform, spec);
    await assert.rejects(startJob(platform, { ...spec, input: { kind: 'disconnect' } }), (err: unknown) => {
      assert.ok(err instanceof ResolverFailure);
      assert.equal(err.code, 'job-running');
      // Named by what it does: a job id means nothing to whoever reads it.
      assert.doesNotMatch(err.message, new RegExp(first.id));
      assert.match(err.message, /Verifying the connection is already under way/);
      return true;
    });
    await saveJob(platform.store, { ...first, status: 'running', startedAt: platform.clock.now().toISOString() });
    await assert.rejects(startJob(platform, spec), /already under way/);
    assert.equal(platform.enqueued.length, 1);
  });

  test('another repository is not blocked', async () => {
    const { platform } = fakeBackend(undefined, { holdQueue: true });
    await startJob(platform, spec);
    await startJob(platform, { ...spec, repositoryUuid: '{33333333-3333-4333-8333-333333333333}' });
    assert.equal(platform.enqueued.length, 2);
  });

  test('a finished job frees the slot', async () => {
    const { platform } = fakeBackend(undefined, { holdQueue: true });
    const first = await startJob(platform, spec);
    await saveJob(platform.store, { ...first, status: 'done', finishedAt: platform.clock.now().toISOString() });
    const second = await startJob(platform, spec);
    assert.notEqual(second.id, first.id);
  });

  test('a job older than the 900 s consumer limit counts as failed and frees the slot', async () => {
    const { platform, clock } = fakeBackend(undefined, { holdQueue: true });
    const first = await startJob(platform, spec);
    await saveJob(platform.store, { ...first, status: 'running', startedAt: clock.now().toISOString() });
    clock.advance(JOB_LIFETIME_MS + 1000);
    const view = jobView((await loadJob(platform.store, first.id)) as JobRecord, clock.now());
    assert.equal(view.status, 'failed');
    assert.match(view.error ?? '', /15 minutes/);
    const second = await startJob(platform, spec);
    assert.notEqual(second.id, first.id);
  });

  test('the consumer does not run a job that waited past the limit, nor one delivered twice', async () => {
    const { platform, backend, clock } = fakeBackend(undefined, { holdQueue: true });
    const stale = await startJob(platform, spec);
    clock.advance(JOB_LIFETIME_MS + 1000);
    await backend.consume({ type: 'job', jobId: stale.id });
    const after = (await loadJob(platform.store, stale.id)) as JobRecord;
    assert.equal(after.status, 'failed');
    assert.deepEqual(after.steps, []);
    assert.equal(await platform.store.get(keys.activeJob(WS, REPO)), undefined, 'slot freed');

    const running = await startJob(platform, spec);
    await saveJob(platform.store, { ...running, status: 'running', startedAt: clock.now().toISOString() });
    await backend.consume({ type: 'job', jobId: running.id });
    assert.equal(((await loadJob(platform.store, running.id)) as JobRecord).status, 'running', 'left to its first delivery');
    assert.ok(platform.log.lines.some((l) => l.message.includes('not run twice')));
  });

  test('a queue message the consumer does not understand is dropped, not thrown', async () => {
    const { backend, platform } = fakeBackend();
    await backend.consume({ type: 'job' });
    await backend.consume('nonsense');
    await backend.consume({ type: 'job', jobId: 'no-such-job' });
    assert.equal(platform.log.lines.filter((l) => l.level === 'warn').length, 3);
  });
});

describe('job progress', () => {
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  /**
   * A store whose job writes take a few turns of the event loop, as a kv write does. `landed(n)` waits
   * until n job writes have landed, counting turns rather than time, so a busy machine cannot win the
   * race; after 100 turns it gives up and the assertion that follows says what was missing.
   */
  function slowStore(clock: TestClock) {
    const store = new MemoryRecordStore(clock);
    const writes: JobRecord[] = [];
    const set = store.set.bind(store);
    store.set = async (key, value, options) => {
      for (let i = 0; i < 5; i++) await turn();
      await set(key, value, options);
      if (key.startsWith('job:')) writes.push(JSON.parse(JSON.stringify(value)) as JobRecord);
    };
    const landed = async (count: number) => {
      for (let i = 0; i < 100 && writes.length < count; i++) await turn();
    };
    return { store, writes, landed };
  }

  const job = (): JobRecord => ({
    id: 'job-1',
    kind: 'connect',
    status: 'running',
    steps: [],
    workspaceUuid: 'w',
    repositoryUuid: 'r',
    repository: 'acme/models',
    accountId: 'a',
    input: { kind: 'verify' },
    createdAt: '2025-06-01T12:00:00.000Z',
  });

  const silent = { info() {}, warn() {}, error() {} };

  test('bursts of events are folded into few writes; the page still sees each step as it starts', async () => {
    const clock = new TestClock();
    const { store, writes, landed } = slowStore(clock);
    const writer = new JobProgressWriter(store, job(), silent);
    const events: ProgressEvent[] = [];
    const emit = (e: ProgressEvent) => {
      events.push(e);
      writer.sink(e);
    };
    emit({ step: 'read-repository', status: 'running', message: 'Reading' });
    await landed(1);
    const live = (await store.get<JobRecord>(keys.job('job-1')))?.steps;
    assert.deepEqual(live, [{ step: 'read-repository', status: 'running', message: 'Reading' }], 'a started step is visible while it runs');

    emit({ step: 'read-repository', status: 'done', message: 'Reading' });
    // Ten access keys added in parallel: twenty events in one turn.
    for (let i = 0; i < 10; i++) emit({ step: `add-key:acme/r${i}`, status: 'running', message: `Adding ${i}` });
    for (let i = 0; i < 10; i++) emit({ step: `add-key:acme/r${i}`, status: 'done', message: `Adding ${i}` });
    emit({ step: 'valohai-key', status: 'running', message: 'Giving Valohai the key' });
    emit({ step: 'valohai-key', status: 'failed', message: 'Giving Valohai the key' });
    emit({ step: 'add-key:acme/r3', status: 'undone', message: 'Undone: access key 3' });
    await writer.finish({ status: 'failed', error: 'Valohai refused the key.' });

    assert.ok(writes.length < events.length / 3, `${writes.length} writes for ${events.length} events`);
    const final = await store.get<JobRecord>(keys.job('job-1'));
    assert.ok(final);
    assert.equal(final.status, 'failed');
    assert.deepEqual(
      final.steps.map((s) => s.step),
      ['read-repository', ...Array.from({ length: 10 }, (_, i) => `add-key:acme/r${i}`), 'valohai-key'],
      'in the order they started, each once',
    );
    assert.equal(final.steps.find((s) => s.step === 'add-key:acme/r3')?.status, 'undone', 'with its latest status');
    assert.equal(final.steps.find((s) => s.step === 'valohai-key')?.status, 'failed');
    assert.equal(writes.at(-1)?.status, 'failed', 'no progress write lands after the final one');
  });
});

describe('kv lock', () => {
  test('a held lock makes the next holder wait, then give up with a clear error', async () => {
    const clock = new TestClock();
    const store = new MemoryRecordStore(clock);
    const naps: number[] = [];
    const sleep = async (ms: number) => {
      naps.push(ms);
    };
    const a = new KvLock(store, clock, 'job-a');
    const b = new KvLock(store, clock, 'job-b', { waitMs: 3000, pollMs: 1000, sleep });
    let release!: () => void;
    const held = a.withLock('repo:acme/models', () => new Promise<void>((resolve) => (release = resolve)));
    await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(b.withLock('repo:acme/models', async () => 'ran'), LockBusyError);
    assert.deepEqual(naps, [1000, 1000, 1000]);
    release();
    await held;
    assert.equal(await b.withLock('repo:acme/models', async () => 'ran'), 'ran', 'free again once released');
  });

  test('a lock whose holder died is taken over once its lease ran out', async () => {
    const clock = new TestClock();
    const store = new MemoryRecordStore(clock);
    await store.create(keys.lock('repo:acme/models'), { holder: 'dead', expiresAt: new Date(clock.now().getTime() + 1000).toISOString() });
    clock.advance(2000);
    const lock = new KvLock(store, clock, 'job-b', { waitMs: 0 });
    assert.equal(await lock.withLock('repo:acme/models', async () => 'ran'), 'ran');
    assert.equal(await store.get(keys.lock('repo:acme/models')), undefined, 'released after use');
  });
});

describe('at-least-once delivery', () => {
  test("a lock held under the holder's own name (its run that died) is taken back at once", async () => {
    const clock = new TestClock();
    const store = new MemoryRecordStore(clock);
    await store.create(keys.lock('repo:acme/models'), { holder: 'job-a', expiresAt: new Date(clock.now().getTime() + 900_000).toISOString() });
    const again = new KvLock(store, clock, 'job-a', { waitMs: 0 });
    assert.equal(await again.withLock('repo:acme/models', async () => 'ran'), 'ran');
    const other = new KvLock(store, clock, 'job-b', { waitMs: 0 });
    await store.create(keys.lock('repo:acme/models'), { holder: 'job-a', expiresAt: new Date(clock.now().getTime() + 900_000).toISOString() });
    await assert.rejects(other.withLock('repo:acme/models', async () => 'ran'), LockBusyError, 'anyone else still waits for it');
  });

  test('a second delivery of one attempt is dropped; a running job is run again only by a redelivery', async () => {
    const { platform, backend } = fakeBackend(undefined, { holdQueue: true });
    const job = await startJob(platform, spec);
    const message = platform.enqueued[0];
    assert.deepEqual(message, { type: 'job', jobId: job.id });
    // The first attempt started and died: its record says running, with the steps it had reached.
    const dead: JobRecord = { ...job, status: 'running', startedAt: platform.clock.now().toISOString(), steps: [{ step: 'valohai-project', status: 'running', message: 'Finding' }] };
    await saveJob(platform.store, dead);

    await backend.consume(message, { eventId: 'event-1', retryCount: 0 });
    assert.equal((await loadJob(platform.store, job.id))?.status, 'running', 'a plain duplicate leaves the live run alone');

    await backend.consume(message, { eventId: 'event-1', retryCount: 1 });
    const rerun = await loadJob(platform.store, job.id);
    assert.ok(rerun && ['done', 'failed', 'unverified'].includes(rerun.status), `the redelivery ran it to its end (${rerun?.status})`);
    assert.equal(rerun.attempts, 2);
    assert.ok(!rerun.steps.some((s) => s.status === 'running'), "the dead run's steps are gone");
    const ended = structuredClone(rerun);

    await backend.consume(message, { eventId: 'event-1', retryCount: 1 });
    await backend.consume(message, { eventId: 'event-1', retryCount: 2 });
    assert.deepEqual(await loadJob(platform.store, job.id), ended, 'deliveries after its end change nothing');
  });
});
