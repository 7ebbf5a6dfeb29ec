// "Check the set-up" on the workspace page: the shared set-up check with the stored credentials, the
// app's egress list and the first connected repository. Workspace admins only; it changes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EGRESS_VALOHAI_ORIGINS } from '../../src/forge/platform/ports';
import { bb, connectWithToken, errorOf, PROJECTS, startHarness, storeAdminTokens, valueOf, vh, type Harness } from './support/forge-fixture';

let h: Harness;

before(async () => {
  h = await startHarness();
  await storeAdminTokens(h);
  assert.equal((await connectWithToken(h, 'inference-api', PROJECTS.inference.id)).status, 'done');
});
after(async () => {
  await h?.close();
});

test('an admin gets every line passing on the connected repository, and nothing changes', async () => {
  const keysBefore = JSON.stringify(h.stack.bitbucket.state.accessKeys('acme', 'inference-api'));
  const fetchesBefore = h.stack.valohai.state.fetchRecords.length;
  const check = valueOf(await h.call('checkSetup', {}, h.context('admin')));
  for (const l of check.lines) assert.ok(l.status === 'pass' || l.status === 'info', `${l.check}: ${l.status}: ${l.found}`);
  assert.match(check.lines.find((l) => l.check === 'bitbucket-access-keys')?.found ?? '', /acme\/inference-api \(1 there\)/);
  assert.ok(check.requests > 0 && check.requests <= check.maxRequests && check.maxRequests === 10);
  assert.equal(JSON.stringify(h.stack.bitbucket.state.accessKeys('acme', 'inference-api')), keysBefore);
  assert.equal(h.stack.valohai.state.fetchRecords.length, fetchesBefore, 'no fetch started');
  assert.ok(!h.replies.at(-1)?.includes(bb.admin.token) && !h.replies.at(-1)?.includes(vh.admin.token));
});

test('someone who is not a workspace admin is refused', async () => {
  assert.equal(errorOf(await h.call('checkSetup', {}, h.context('writer'))).code, 'not-admin');
});

test('a backend clock ten minutes ahead and a Valohai host no longer in the egress list are named', async () => {
  h.advance(10 * 60_000);
  const platform = h.platform as unknown as { valohaiOrigins: readonly string[] };
  const saved = platform.valohaiOrigins;
  platform.valohaiOrigins = EGRESS_VALOHAI_ORIGINS;
  try {
    const check = valueOf(await h.call('checkSetup', {}, h.context('admin')));
    const clock = check.lines.find((l) => l.check === 'clock');
    assert.equal(clock?.status, 'fail');
    assert.match(clock?.found ?? '', /10 minutes ahead of Bitbucket's/);
    const egress = check.lines.find((l) => l.check === 'valohai-egress');
    assert.equal(egress?.status, 'fail');
    assert.match(egress?.found ?? '', /is not among the hosts the app may call \(https:\/\/app\.valohai\.com\)/);
    assert.match(egress?.fix ?? '', /npm run valohai-hosts -- 127\.0\.0\.1/);
    assert.equal(check.healthy, false);
  } finally {
    platform.valohaiOrigins = saved;
    h.advance(-10 * 60_000);
  }
});
