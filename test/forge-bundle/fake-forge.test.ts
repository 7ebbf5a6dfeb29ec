// The fake Forge platform itself, with a made-up app of three functions: the context each function
// gets, the empty environment, and the queue as Forge runs it (delays, concurrency, retries asked
// with InvocationError, at-least-once delivery, an invocation cut off by a platform timeout).
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationError, InvocationErrorCode, Queue, type AsyncEvent, type PushEvent } from '@forge/events';
import { kvs } from '@forge/kvs';
import type { ManifestSchema } from '@forge/manifest';
import { FakeForge, MAX_RETRIES } from './fake-forge';

type Fn = (...args: unknown[]) => unknown;

const WORKSPACE = '{5e0ad1c2-0000-4000-8000-00000000a5e1}';
const manifest = {
  app: { id: 'ari:cloud:ecosystem::app/00000000-0000-4000-8000-000000000000', runtime: { name: 'nodejs22.x' } },
  modules: {
    'bitbucket:repoSettingsMenuPage': [{ key: 'page', title: 'Page', resource: 'r', resolver: { function: 'resolve' } }],
    consumer: [{ key: 'work', queue: 'work-queue', function: 'consume' }],
    scheduledTrigger: [{ key: 'tick', function: 'tick', interval: 'hour' }],
    function: [
      { key: 'resolve', handler: 'app.resolve' },
      { key: 'consume', handler: 'app.consume', timeoutSeconds: 900 },
      { key: 'tick', handler: 'app.tick' },
    ],
  },
  permissions: { external: { fetch: { backend: [{ address: 'api.example.com' }] } } },
} as unknown as ManifestSchema;

/** The app's functions, set by each test. */
const app: Record<string, Fn> = {};
/** Requests the stand-in for api.example.com received. */
let served: string[] = [];
let upstream: http.Server;
let origin = '';
let forge: FakeForge | undefined;

before(async () => {
  upstream = http.createServer((req, res) => {
    served.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
after(async () => {
  await forge?.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});
beforeEach(async () => {
  await forge?.close();
  forge = undefined;
  served = [];
  for (const k of Object.keys(app)) delete app[k];
});

async function start(options: { atLeastOnce?: boolean; variables?: Record<string, string> } = {}): Promise<FakeForge> {
  forge = await FakeForge.start({
    manifest,
    load: async (handler) => {
      const name = handler.replace(/^app\./, '');
      return (...args: unknown[]) => (app[name] as Fn)(...args);
    },
    upstreams: { 'api.example.com': origin },
    bitbucket: { origin, app: { email: 'app@example.com', token: 't' }, users: {} },
    ...options,
  });
  return forge;
}

/** A resolver whose only work is to push `events` to the consumer's queue, as the app's pages do. */
function pushing(events: PushEvent | PushEvent[]): void {
  app.resolve = async () => {
    await new Queue({ key: 'work-queue' }).push(events);
    return 'pushed';
  };
}

const push = (f: FakeForge) => f.resolve({ moduleKey: 'page', functionKey: 'start', payload: {}, accountId: 'acc-1', workspaceId: WORKSPACE });

test('each function gets the context Forge gives: installation, braced workspace id, licence, and the principal only when a person calls', async () => {
  const f = await start();
  const seen: Record<string, unknown> = {};
  app.resolve = async (request: unknown, context: unknown) => {
    seen.resolver = context;
    seen.request = request;
    await new Queue({ key: 'work-queue' }).push({ body: { n: 1 } });
    return 'ok';
  };
  app.consume = (event: unknown, context: unknown) => {
    seen.consumer = context;
    seen.event = event;
  };
  app.tick = (event: unknown, context: unknown) => {
    seen.schedule = context;
    seen.scheduleEvent = event;
    return { statusCode: 204 };
  };
  await f.resolve({ moduleKey: 'page', functionKey: 'start', payload: {}, accountId: 'acc-1', workspaceId: WORKSPACE, repositoryUuid: '{abc}' });
  await f.idle();
  assert.deepEqual(await f.fireScheduledTriggers(WORKSPACE.replace(/[{}]/g, '')), [{ statusCode: 204 }]);
  const installContext = `ari:cloud:bitbucket::workspace/${WORKSPACE.replace(/[{}]/g, '')}`;
  for (const who of ['resolver', 'consumer', 'schedule']) {
    const context = seen[who] as Record<string, unknown>;
    assert.equal(context.installContext, installContext, who);
    assert.equal(context.workspaceId, WORKSPACE, `${who}: the workspace id with braces, however it was given`);
    assert.deepEqual((context.license as { isActive?: boolean }).isActive, true, who);
    assert.ok((context.installation as { ari?: { installationId?: string } }).ari?.installationId, who);
  }
  assert.deepEqual((seen.resolver as { principal?: unknown }).principal, { accountId: 'acc-1' });
  assert.equal((seen.consumer as { principal?: unknown }).principal, undefined, 'no person behind a queue event');
  assert.equal((seen.schedule as { principal?: unknown }).principal, undefined, 'no person behind a schedule');
  assert.equal(((seen.request as { context: { workspaceId: string } }).context).workspaceId, WORKSPACE);
  const event = seen.event as AsyncEvent;
  assert.deepEqual([event.body, event.queueName, typeof event.jobId, typeof event.eventId, event.retryContext], [{ n: 1 }, 'work-queue', 'string', 'string', undefined]);
  assert.deepEqual((seen.scheduleEvent as { context: unknown }).context, { moduleKey: 'tick' });
  assert.deepEqual(f.problems, []);
});

test('a scheduled trigger answering without a 2xx statusCode is a failed invocation', async () => {
  const f = await start();
  app.tick = () => undefined;
  assert.deepEqual(await f.fireScheduledTriggers(WORKSPACE), [undefined]);
  assert.equal(f.problems.length, 1);
  assert.match(f.problems[0] ?? '', /2xx statusCode/);
});

test('a function sees only the forge variables in process.env; the process gets its own back', async () => {
  const f = await start({ variables: { FEATURE: 'on' } });
  const home = process.env.HOME;
  assert.ok(home, 'the test process has a HOME');
  let inside: Record<string, unknown> = {};
  app.resolve = () => {
    process.env.LEAK = 'x';
    inside = { keys: Object.keys(process.env), home: process.env.HOME, feature: process.env.FEATURE, leak: process.env.LEAK, has: 'PATH' in process.env };
    return 'ok';
  };
  await push(f);
  assert.deepEqual(inside, { keys: ['FEATURE', 'LEAK'], home: undefined, feature: 'on', leak: 'x', has: false });
  assert.equal(process.env.HOME, home);
  assert.equal(process.env.LEAK, undefined, 'what a function set stays in its invocation');
  app.resolve = () => process.env.LEAK ?? 'unset';
  assert.equal(await push(f), 'unset', 'and is not there for the next invocation');
  await f.close();
  forge = undefined;
  assert.equal(process.env.HOME, home);
});

test('delayInSeconds holds an event until the clock passes its time, and is no problem', async () => {
  const f = await start();
  const got: unknown[] = [];
  app.consume = (event: unknown) => void got.push((event as AsyncEvent).body);
  pushing([{ body: { n: 'later' }, delayInSeconds: 120 }, { body: { n: 'now' } }]);
  await push(f);
  await f.idle();
  assert.deepEqual(got, [{ n: 'now' }]);
  assert.equal(f.waiting.length, 1);
  f.advanceClock(119_000);
  await f.idle();
  assert.deepEqual(got, [{ n: 'now' }], 'not before its time');
  f.advanceClock(1_000);
  await f.idle();
  assert.deepEqual(got, [{ n: 'now' }, { n: 'later' }]);
  assert.deepEqual(f.problems, []);
});

test('a returned or thrown InvocationError brings the event back after retryAfter, with retryContext, up to the limit', async () => {
  const f = await start();
  const contexts: unknown[] = [];
  app.consume = (event: unknown) => {
    const e = event as AsyncEvent;
    contexts.push(e.retryContext);
    if (!e.retryContext) return new InvocationError({ retryAfter: 30, retryReason: InvocationErrorCode.FUNCTION_UPSTREAM_RATE_LIMITED, retryData: { page: 2 } });
    // A consumer may throw it too: Forge reads it the same way.
    if (e.retryContext.retryCount === 1) throw new InvocationError({ retryAfter: 1, retryReason: InvocationErrorCode.FUNCTION_RETRY_REQUEST });
    return undefined;
  };
  pushing({ body: { n: 1 } });
  await push(f);
  await f.idle();
  assert.deepEqual(contexts, [undefined]);
  f.advanceClock(30_000);
  await f.idle();
  f.advanceClock(1_000);
  await f.idle();
  assert.deepEqual(contexts, [
    undefined,
    { retryCount: 1, retryReason: 'FUNCTION_UPSTREAM_RATE_LIMITED', retryData: { page: 2 } },
    { retryCount: 2, retryReason: 'FUNCTION_RETRY_REQUEST', retryData: undefined },
  ]);
  assert.deepEqual(f.problems, []);

  app.consume = () => new InvocationError();
  pushing({ body: { n: 2 } });
  await push(f);
  for (let i = 0; i <= MAX_RETRIES; i++) {
    await f.idle();
    f.advanceClock(1_000);
  }
  await f.idle();
  assert.equal(f.deliveries.filter((d) => d.body.n === 2).length, MAX_RETRIES + 1);
  assert.equal(f.problems.length, 1);
  assert.match(f.problems[0] ?? '', /given up after 4 retries/);
});

test('at-least-once mode delivers every event twice, with the same event id', async () => {
  const f = await start({ atLeastOnce: true });
  app.consume = () => undefined;
  pushing([{ body: { n: 1 } }, { body: { n: 2 } }]);
  await push(f);
  await f.idle();
  assert.equal(f.queued.length, 2);
  assert.deepEqual(f.deliveries.map((d) => `${String(d.body.n)} ${d.eventId}`).sort(), [...f.queued, ...f.queued].map((q) => `${String(q.body.n)} ${q.eventId}`).sort());
});

test('events sharing a concurrency key run one at a time; other keys run beside them', async () => {
  const f = await start({ atLeastOnce: true });
  let inKey = 0;
  let most = 0;
  let otherOverlapped = false;
  app.consume = async (event: unknown) => {
    const { body } = event as AsyncEvent;
    if (body.key === 'a') {
      inKey += 1;
      most = Math.max(most, inKey);
    } else if (inKey > 0) otherOverlapped = true;
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (body.key === 'a') inKey -= 1;
  };
  pushing([
    { body: { key: 'a' }, concurrency: { key: 'repo-a', limit: 1 } },
    { body: { key: 'a' }, concurrency: { key: 'repo-a', limit: 1 } },
    { body: { key: 'b' } },
  ]);
  await push(f);
  await f.idle();
  assert.equal(f.deliveries.length, 6);
  assert.equal(most, 1, 'never two of key repo-a at once, duplicates included');
  assert.ok(otherOverlapped, 'an event without that key was not held back');
  assert.deepEqual(f.problems, []);
});

test('a consumer cut off at its second outbound request dies there and its event comes back with retryContext', async () => {
  const f = await start();
  const runs: { retry: unknown; wrote: boolean }[] = [];
  app.consume = async (event: unknown) => {
    const e = event as AsyncEvent;
    const run = { retry: e.retryContext, wrote: false };
    runs.push(run);
    await fetch('https://api.example.com/one');
    await fetch('https://api.example.com/two', { method: 'POST', body: '{}' });
    await fetch('https://api.example.com/three');
    await kvs.set(`done-${e.retryContext?.retryCount ?? 0}`, true);
    run.wrote = true;
  };
  for (const mode of ['before', 'after'] as const) {
    served = [];
    runs.length = 0;
    const cut = f.cutOff({ match: (body) => body.mode === mode, atRequest: 2, mode });
    pushing({ body: { mode } });
    await push(f);
    await f.idle();
    assert.equal(cut.fired?.body.mode, mode);
    assert.deepEqual(
      served,
      mode === 'before'
        ? ['GET /one', 'GET /one', 'POST /two', 'GET /three']
        : ['GET /one', 'POST /two', 'GET /one', 'POST /two', 'GET /three'],
      `${mode}: the cut request ${mode === 'before' ? 'never left' : 'reached the server'}, and the retry ran whole`,
    );
    assert.deepEqual(
      runs.map((r) => [r.retry, r.wrote]),
      [
        [undefined, false],
        [{ retryCount: 1, retryReason: 'FUNCTION_TIME_OUT', retryData: undefined }, true],
      ],
    );
    assert.deepEqual([...f.records.keys()].sort(), ['done-1']);
    f.records.clear();
  }
  assert.deepEqual(f.problems, []);
});
