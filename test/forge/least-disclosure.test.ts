// Attack 6 of the trust model: what a member who does not administer anything learns through the
// resolvers. Rita only reads acme/ml-models; Wes writes to every acme repository but administers none.
// Bitbucket hides the workspace's other private repositories from Rita, the stored tokens' owners
// from both, and the Valohai token's projects from everyone but the people who connect. The pages
// give them what they need to ask an admin (is it set up, is it connected, to which project) and no more.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobView } from '../../src/forge/contract';
import { bb, errorOf, PROJECTS, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

let h: Harness;
let adminJob: JobView;
/** Requests made with the stored API token so far. */
let tokenRequests = 0;

/** What only admins may see, as it would appear in a reply. */
const HIDDEN = {
  'submodule repositories of ml-models': ['acme/datasets', 'acme/training-lib', 'acme/docs-site', 'acme/feature-store'],
  'other private repositories': ['acme/inference-api', 'acme/research-notebooks', 'acme/scratch'],
  'Valohai project ids': Object.values(PROJECTS).map((p) => p.id),
  "the stored tokens' owners": [bb.admin.email, vh.admin.username],
};

function assertHides(reply: unknown, what: string) {
  const text = JSON.stringify(reply);
  for (const [kind, values] of Object.entries(HIDDEN)) {
    for (const value of values) assert.ok(!text.includes(value), `${what} shows ${kind}: ${value}`);
  }
}

before(async () => {
  h = await startHarness({
    watchToken: (transport) => ({
      request: (req) => {
        tokenRequests += 1;
        return transport.request(req);
      },
    }),
  });
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
});
after(async () => {
  await h?.close();
});

describe('attack 6: non-admins learn what Bitbucket hides from them', () => {
  test('a ready repository: no project list, no ownership options, for a reader or a writer', async () => {
    for (const who of ['reader', 'writer'] as const) {
      const page = valueOf(await h.call('getRepositoryPage', {}, h.context(who, 'ml-models')));
      assert.equal(page.state, 'ready');
      assert.equal(page.canAdminister, false);
      assert.equal(page.ready, undefined);
      assert.deepEqual(page.summary, { projectName: null, movedAway: false });
      assertHides(page, `${who}'s page of a ready repository`);
    }
    // The admin still gets the list to choose from.
    const admin = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', 'ml-models')));
    assert.ok(admin.ready?.projects.some((p) => p.id === PROJECTS.training.id));
  });

  test('a connected repository: its state and project name, no keys, no submodule repositories, no job', async () => {
    const { jobId } = valueOf(
      await h.call('startConnect', { projectId: PROJECTS.training.id, ref: 'main', keyType: 'ed25519', submodules: true }, h.context('admin', 'ml-models')),
    );
    await h.platform.idle();
    adminJob = valueOf(await h.call('getJob', { jobId }, h.context('admin', 'ml-models')));
    assert.notEqual(adminJob.status, 'failed', adminJob.error);
    assert.ok(JSON.stringify(adminJob).includes('acme/datasets'), 'the admin sees every repository the job touched');

    for (const who of ['reader', 'writer'] as const) {
      const page = valueOf(await h.call('getRepositoryPage', {}, h.context(who, 'ml-models')));
      assert.equal(page.state, 'connected');
      assert.equal(page.connection, undefined);
      assert.deepEqual(page.summary, { projectName: 'training', movedAway: false });
      assertHides(page, `${who}'s page of a connected repository`);
      const job = errorOf(await h.call('getJob', { jobId }, h.context(who, 'ml-models')));
      assert.equal(job.code, 'not-admin');
      assertHides(job, `${who}'s job reply`);
    }
  });

  test("a reader's and a writer's page loads spend nothing of the stored token and ask Valohai nothing", async () => {
    const tokenBefore = tokenRequests;
    const valohaiBefore = h.stack.valohai.requests.length;
    for (const who of ['reader', 'writer'] as const) valueOf(await h.call('getRepositoryPage', {}, h.context(who, 'ml-models')));
    assert.equal(h.stack.valohai.requests.length, valohaiBefore, 'no Valohai request');
    assert.equal(tokenRequests - tokenBefore, 0, 'no request with the stored API token');
  });

  test('the workspace page: whether it is set up and who may connect, not which repositories exist or whose tokens these are', async () => {
    for (const who of ['reader', 'writer'] as const) {
      const settings = valueOf(await h.call('getWorkspaceSettings', {}, h.context(who)));
      assert.equal(settings.canAdminister, false);
      assert.deepEqual(settings.repositories, []);
      assert.equal(settings.valohai.configured, true);
      assert.equal(settings.bitbucket.configured, true);
      assert.equal(settings.trust.connectors, 'workspace-admins');
      assertHides(settings, `${who}'s workspace page`);
    }
    const admin = valueOf(await h.call('getWorkspaceSettings', {}, h.context('admin')));
    assert.ok(admin.repositories.some((r) => r.fullName === 'acme/inference-api' && r.state === 'not-connected'));
    assert.equal(admin.bitbucket.email, bb.admin.email);
  });

  test('the preview of targets is for admins only', async () => {
    for (const who of ['reader', 'writer'] as const) {
      const refused = errorOf(await h.call('previewConnect', { submodules: true }, h.context(who, 'ml-models')));
      assert.equal(refused.code, 'not-admin');
      assertHides(refused, `${who}'s preview reply`);
    }
  });
});
