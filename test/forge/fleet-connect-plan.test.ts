// Bulk connect as the plan and the keys show it: the key type the single connect form recommends (RSA
// 4096), not another made silently, and the plan naming every repository each connect puts its key on,
// the submodule repositories included, with the requests counted for each.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { REQUESTS_PER_TARGET } from '../../src/forge/fleet/batch-plan';
import { startHarness, storeAdminTokens, valueOf, type Harness } from './support/forge-fixture';

let h: Harness;

before(async () => {
  h = await startHarness();
  await storeAdminTokens(h);
});
after(() => h?.close());

const keysOn = (slug: string) => {
  const { state } = h.stack.bitbucket;
  const repo = state.findRepo('acme', slug);
  assert.ok(repo, slug);
  return state.listAccessKeys(repo).filter((k) => /\[vh:[0-9a-z]{12}\]$/.test(k.label));
};

test('the plan lists every repository a bulk connect puts its key on, submodules included, and says the key type', async () => {
  const payload = { action: 'connect' as const, repositories: ['acme/ml-models', 'acme/datasets'], connect: { project: 'existing' as const } };
  const plan = valueOf(await h.call('planBatch', payload, h.context('admin')));
  assert.equal(plan.keyType, 'rsa', 'no key type chosen: RSA 4096, as the single form recommends');
  const models = plan.act.find((a) => a.repository === 'acme/ml-models');
  assert.ok(models, JSON.stringify(plan));
  // ml-models names datasets and training-lib (which nests feature-store); docs-site is public, fetched without a key.
  assert.deepEqual([...(models.repositories ?? [])].sort(), ['acme/datasets', 'acme/feature-store', 'acme/ml-models', 'acme/training-lib']);
  assert.equal(models.targets, 4);
  assert.equal(models.requests, 4 * plan.requests.perTarget);
  const datasets = plan.act.find((a) => a.repository === 'acme/datasets');
  assert.deepEqual(datasets?.repositories, ['acme/datasets']);
  assert.equal(plan.requests.total, 5 * plan.requests.perTarget);

  const without = valueOf(await h.call('planBatch', { ...payload, connect: { ...payload.connect, submodules: false } }, h.context('admin')));
  assert.deepEqual(without.act.find((a) => a.repository === 'acme/ml-models')?.repositories, ['acme/ml-models']);

  const chosen = valueOf(await h.call('planBatch', { ...payload, keyType: 'ed25519' }, h.context('admin')));
  assert.equal(chosen.keyType, 'ed25519');
});

test('a bulk connect with no key type chosen makes RSA keys', async () => {
  valueOf(await h.call('startBatch', { action: 'connect', repositories: ['acme/datasets'], connect: { project: 'existing' } }, h.context('admin')));
  await h.platform.idle();
  const batch = valueOf(await h.call('getBatch', { pageSize: 10 }, h.context('admin'))).batch;
  assert.equal(batch?.status, 'done', batch?.progress);
  const added = keysOn('datasets');
  assert.equal(added.length, 1);
  assert.match(added[0]?.key ?? '', /^ssh-rsa /);
});

test("the plan's words on where its request figure comes from name no file of the project", () => {
  for (const [action, { source }] of Object.entries(REQUESTS_PER_TARGET)) {
    assert.doesNotMatch(source, /test\/|bench\/|\.test\.ts|\.ts\b/, action);
    assert.match(source, new RegExp(`^${action}: `));
  }
});
