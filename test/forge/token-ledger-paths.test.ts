// Every path that sends a request with the stored Bitbucket API token counts it in the token user's
// hour, in the app's storage: what the ledger says was spent is exactly what went to Bitbucket with the
// token, path by path, and work with nobody at the keyboard is counted as such. Pages spend nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runHealthCheck } from '../../src/forge/health/check';
import { openTokenMeter } from '../../src/forge/store/token-ledger';
import { PROJECTS, bb, startHarness, valueOf, vh, type Harness, type SentRequest } from './support/forge-fixture';

const REPO = 'inference-api';

describe("the token's hour counts every path", () => {
  let h: Harness;
  const sent: SentRequest[] = [];
  const tokenRequests = () => sent.filter((r) => r.via === 'token').length;
  const ledger = async () => (await openTokenMeter(h.platform.store, h.platform.clock, { email: bb.admin.email }, 'interactive')).spent();
  let counted = { interactive: 0, unattended: 0 };

  /** Runs `path`, then checks the ledger grew by exactly the token requests it sent, of `kind`. */
  async function path(kind: 'interactive' | 'unattended', run: () => Promise<unknown>): Promise<number> {
    const before = tokenRequests();
    await run();
    await h.platform.idle();
    const spent = tokenRequests() - before;
    counted = { ...counted, [kind]: counted[kind] + spent };
    const now = await ledger();
    assert.deepEqual({ interactive: now.interactive, unattended: now.unattended }, counted);
    return spent;
  }
  const job = async (name: 'startConnect' | 'startRotate' | 'startVerify' | 'startDisconnect', payload: object) => {
    const reply = await h.call(name as 'startVerify', payload as Record<string, never>, h.context('admin', REPO));
    const { jobId } = valueOf(reply);
    await h.platform.idle();
    const done = valueOf(await h.call('getJob', { jobId }, h.context('admin', REPO)));
    assert.equal(done.status, 'done', done.error ?? done.result?.error);
  };

  before(async () => {
    h = await startHarness({ record: (r) => sent.push(r) });
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  });
  after(async () => {
    await h?.close();
  });

  test('checking a token before it is stored counts in its user\'s hour', async () => {
    assert.ok((await path('interactive', () => h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')))) > 0);
  });

  test('the connect preview and a connect', async () => {
    await path('interactive', async () => valueOf(await h.call('previewConnect', { ref: 'main', submodules: true }, h.context('admin', REPO))));
    const spent = await path('interactive', () => job('startConnect', { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true }));
    assert.ok(spent > 0);
  });

  test('a page load, a progress poll and the workspace page spend nothing', async () => {
    assert.equal(await path('interactive', async () => valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)))), 0);
    assert.equal(await path('interactive', async () => valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')))), 0);
  });

  test('Verify and rotate', async () => {
    assert.ok((await path('interactive', () => job('startVerify', {}))) > 0);
    assert.ok((await path('interactive', () => job('startRotate', {}))) > 0);
  });

  test('a scheduled check and a push count as unattended work', async () => {
    assert.ok((await path('unattended', () => runHealthCheck(h.platform, h.workspaceId, h.repoUuid(REPO), { trigger: 'schedule' }))) > 0);
    await h.stack.bitbucket.state.pushCommit('acme', REPO, { branch: 'main', message: 'Serve faster', files: { 'serve.py': 'print("fast")\n' } });
    // A push that leaves .gitmodules alone sends nothing with the token: Valohai fetches, and that is all.
    assert.equal(await path('unattended', () => h.backend.onPush({ repository: { uuid: h.repoUuid(REPO) }, workspace: { uuid: h.workspaceId }, push: { ref: 'main' } })), 0);
  });

  test('the workspace page shows the hour as counted', async () => {
    const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.equal(settings.bitbucket.hour?.spent, counted.interactive + counted.unattended);
    assert.equal(settings.bitbucket.hour?.unattended, counted.unattended);
    assert.equal(settings.bitbucket.hour?.limit, 1000);
  });

  test('a disconnect', async () => {
    assert.ok((await path('interactive', () => job('startDisconnect', {}))) > 0);
  });
});

test('every stored-token transport the app makes is metered', () => {
  const root = join(import.meta.dirname, '../../src/forge');
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const makers = files.filter((f) => /\.makeBitbucketWithToken\(/.test(readFileSync(join(root, f), 'utf8')));
  assert.ok(makers.length > 0);
  // Metered on the spot, or handed to the fleet's MeteredToken, which meters every request it sends.
  for (const f of makers) assert.match(readFileSync(join(root, f), 'utf8'), /meterRequests\(|new MeteredToken\(/, `${f} makes a stored-token transport without the meter`);
});
