import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultRule } from '../../../dev/faults';
import { ed25519PublicKeyFor } from '../../../dev/seed/index';
import { authHeader, creds, startDemo, type DemoEmulator } from './support/fixture';

let demo: DemoEmulator;

before(async () => {
  demo = await startDemo();
});
afterEach(() => demo.bb.faults.clear());
after(() => demo.bb.close());

const REPO = '/repositories/acme/ml-models';

const installers: Record<string, (rule: FaultRule) => Promise<void>> = {
  'in-process': async (rule) => {
    demo.bb.faults.add(rule);
  },
  'over HTTP at /__faults': async (rule) => {
    const res = await fetch(`${demo.bb.origin}/__faults`, { method: 'POST', body: JSON.stringify(rule) });
    assert.equal(res.status, 201);
  },
};

const get = (path: string) => fetch(`${demo.bb.url}${path}`, { headers: { authorization: authHeader(creds.admin) ?? '' } });

for (const [how, install] of Object.entries(installers)) {
  describe(`faults installed ${how}`, () => {
    test('latency delays the matching route and leaves others alone', async () => {
      await install({ method: 'GET', path: '/refs/branches/', latencyMs: 400 });
      const order: string[] = [];
      const slow = get(`${REPO}/refs/branches/main`).then(async (r) => {
        order.push('slow');
        return r;
      });
      const fast = get(REPO).then((r) => {
        order.push('fast');
        return r;
      });
      const [slowRes, fastRes] = await Promise.all([slow, fast]);
      assert.deepEqual(order, ['fast', 'slow']);
      assert.equal(slowRes.status, 200, 'latency alone still answers normally');
      assert.equal(fastRes.status, 200);
      assert.equal(demo.bb.faults.list()[0]?.hits, 1);
    });

    test('fail the Nth call with a status and body, then recover', async () => {
      await install({ method: 'POST', path: '/deploy-keys$', after: 1, times: 1, status: 503, body: { type: 'error', error: { message: 'Service unavailable' } } });
      const post = (key: string) =>
        fetch(`${demo.bb.url}${REPO}/deploy-keys`, {
          method: 'POST',
          headers: { authorization: authHeader(creds.admin) ?? '', 'content-type': 'application/json' },
          body: JSON.stringify({ key, label: 'fault test' }),
        });
      const first = await post(ed25519PublicKeyFor(`fault-${how}-1`));
      assert.equal(first.status, 200);
      const second = await post(ed25519PublicKeyFor(`fault-${how}-2`));
      assert.equal(second.status, 503);
      assert.deepEqual(await second.json(), { type: 'error', error: { message: 'Service unavailable' } });
      const third = await post(ed25519PublicKeyFor(`fault-${how}-3`));
      assert.equal(third.status, 200);
      const keys = demo.bb.state.accessKeys('acme', 'ml-models').map((k) => k.key);
      assert.ok(!keys.includes(ed25519PublicKeyFor(`fault-${how}-2`).split(' ').slice(0, 2).join(' ')), 'the failed call changed nothing');
    });

    test('reset drops the connection without an answer', async () => {
      await install({ path: '^/2\\.0/repositories/acme/ml-models$', times: 1, reset: true });
      await assert.rejects(get(REPO));
      assert.equal((await get(REPO)).status, 200, 'only the next call was affected');
    });

    test('malformed JSON answers 200 with a body that does not parse', async () => {
      await install({ path: '/deploy-keys$', method: 'GET', times: 1, malformed: true });
      const res = await get(`${REPO}/deploy-keys`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const text = await res.text();
      assert.throws(() => JSON.parse(text), SyntaxError);
    });
  });
}

describe('the /__faults control endpoint', () => {
  test('lists rules with their hit counts and clears them', async () => {
    await fetch(`${demo.bb.origin}/__faults`, { method: 'POST', body: JSON.stringify({ path: '/user$', status: 500, body: 'boom' }) });
    const res = await get('/user');
    assert.equal(res.status, 500);
    assert.equal(await res.text(), 'boom');
    const rules = (await (await fetch(`${demo.bb.origin}/__faults`)).json()) as { hits: number }[];
    assert.equal(rules.length, 1);
    assert.equal(rules[0]?.hits, 1);
    assert.equal((await fetch(`${demo.bb.origin}/__faults`, { method: 'DELETE' })).status, 204);
    assert.equal((await get('/user')).status, 200);
    const bad = await fetch(`${demo.bb.origin}/__faults`, { method: 'POST', body: '{"status": 500}' });
    assert.equal(bad.status, 400);
  });

  test('faulted calls appear in the request log with the status the client saw', async () => {
    demo.bb.requests.length = 0;
    demo.bb.faults.add({ path: '/user$', status: 502, times: 1 });
    await get('/user');
    await get('/user');
    assert.deepEqual(
      demo.bb.requests.map((r) => [r.method, r.path, r.status]),
      [
        ['GET', '/2.0/user', 502],
        ['GET', '/2.0/user', 200],
      ],
    );
  });
});
