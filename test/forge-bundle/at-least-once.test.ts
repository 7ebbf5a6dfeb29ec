// Forge delivers queue events at least once, and stops a consumer at its timeout then delivers its event
// again. The bundled app's whole story must come out the same either way: run once as the baseline, then
// with every event delivered twice (the same calls, the same records: nothing done twice), then with
// each piece of queued work (connect, the push's fetch, rotate, the scheduled check, disconnect) cut off
// at its first, middle and last outbound request (the same end state: one key per repository, the old
// one working until the new one does, none left after disconnect).
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { bundleForTests, type ForgeBundle } from './bundle';
import type { CutOffHandle, FakeForge } from './fake-forge';
import { mask, QUEUE_TYPE, type QueuedWork, type TranscriptEntry } from './scenario';
import { runStory, type StoryOptions } from './story';

let bundle: ForgeBundle;
before(async () => {
  bundle = await bundleForTests();
});
after(async () => {
  await bundle?.remove();
});

interface Run {
  transcript: TranscriptEntry[];
  /** Every record left in the KV store, masked and sorted. */
  records: string[];
  /** Outbound requests of the consumer run that did each piece of work. */
  requests: Map<QueuedWork, number>;
}

/** The token hour's record by its totals: which wall-clock minute a request fell in differs from run to run. */
function hourTotals(json: string): string {
  const hour = JSON.parse(json) as { minutes: Record<string, { i: number; u: number }> };
  const spent = Object.values(hour.minutes).reduce((sum, m) => ({ i: sum.i + m.i, u: sum.u + m.u }), { i: 0, u: 0 });
  return JSON.stringify({ ...hour, minutes: spent });
}

const masked = (text: string) => String(mask(text)).replace(/\b[0-9a-f]{64}\b/g, '<hash>');

async function story(t: TestContext, options: StoryOptions = {}): Promise<Run> {
  let forge: FakeForge | undefined;
  const marks: { work: QueuedWork; from: number }[] = [];
  const run: Run = { transcript: [], records: [], requests: new Map() };
  run.transcript = await runStory(t, bundle.manifest, async (handler) => bundle.handler(handler), {
    ...options,
    prepare: (f) => {
      forge = f;
      options.prepare?.(f);
    },
    beforeWork: (work) => {
      marks.push({ work, from: forge?.consumerRuns.length ?? 0 });
      options.beforeWork?.(work);
    },
    inspect: (f, stack) => {
      run.records = [...f.records].map(([key, entry]) => `${masked(key)} = ${masked(key.startsWith('tokenhour:') ? hourTotals(entry.json) : entry.json)}`).sort();
      marks.forEach(({ work, from }, i) => {
        const runs = f.consumerRuns.slice(from, marks[i + 1]?.from).filter((r) => r.event.body.type === QUEUE_TYPE[work]);
        run.requests.set(work, Math.max(0, ...runs.map((r) => r.requests)));
      });
      options.inspect?.(f, stack);
    },
  });
  return run;
}

let baseline: Run | undefined;

test('the story with each event delivered once: the baseline', async (t) => {
  // Valohai's repository-write preflight is remembered per host for the process's life, as in a Forge
  // process that lives on: a first run as far as connect (where it is learnt) warms it, so that every
  // run compared below sends the same calls.
  await story(t, { onlyConnect: true });
  baseline = await story(t);
  for (const work of Object.keys(QUEUE_TYPE) as QueuedWork[]) assert.ok((baseline.requests.get(work) ?? 0) > 0, `${work} made outbound requests`);
});

test('every event delivered twice: the same replies, calls and records, nothing done twice', async (t) => {
  assert.ok(baseline, 'the baseline ran');
  let deliveries = 0;
  let queued = 0;
  const run = await story(t, {
    atLeastOnce: true,
    inspect: (forge) => {
      deliveries = forge.deliveries.length;
      queued = forge.queued.length;
    },
  });
  assert.equal(deliveries, 2 * queued, 'each event was delivered twice');
  for (const [i, entry] of baseline.transcript.entries()) {
    const twice = run.transcript[i];
    assert.equal(twice?.step, entry.step);
    assert.deepEqual(twice?.replies, entry.replies, `replies differ in "${entry.step}"`);
    assert.deepEqual(twice?.outbound, entry.outbound, `outbound calls differ in "${entry.step}" (a second delivery did the work again)`);
  }
  assert.deepEqual(run.records, baseline.records, 'the same records, and no more');
});

/** Where each run cuts each piece of work: its first, middle and last outbound request of the baseline. */
const CUTS: { name: string; at: (requests: number) => number; mode: 'before' | 'after' }[] = [
  { name: 'its first outbound request, before it leaves', at: () => 1, mode: 'before' },
  { name: 'its middle outbound request, after it reached the server', at: (n) => Math.ceil(n / 2), mode: 'after' },
  { name: 'its last outbound request, after it reached the server', at: (n) => n, mode: 'after' },
];

for (const cut of CUTS) {
  test(`each piece of work cut off at ${cut.name}: redelivered, it ends as the story expects`, async (t) => {
    assert.ok(baseline, 'the baseline ran');
    const requests = baseline.requests;
    let forge: FakeForge | undefined;
    const armed: { work: QueuedWork; handle: CutOffHandle }[] = [];
    const redelivered: string[] = [];
    await story(t, {
      repeatedFetches: true,
      prepare: (f) => (forge = f),
      beforeWork: (work) => {
        const type = QUEUE_TYPE[work];
        const handle = forge?.cutOff({ match: (body) => body.type === type, atRequest: cut.at(requests.get(work) ?? 1), mode: cut.mode });
        if (handle) armed.push({ work, handle });
      },
      inspect: (f) => {
        for (const { work, handle } of armed) {
          const event = handle.fired;
          if (!event) continue;
          const again = f.consumerRuns.find((r) => r.event.eventId === event.eventId && r.event.retryContext?.retryCount === 1 && !r.died);
          if (again) redelivered.push(work);
        }
      },
    });
    assert.deepEqual(
      armed.filter((a) => a.handle.fired).map((a) => a.work),
      Object.keys(QUEUE_TYPE),
      'every piece of work was cut off where aimed',
    );
    assert.deepEqual(redelivered, Object.keys(QUEUE_TYPE), 'and its event came back with retryContext and ran to its end');
  });
}
