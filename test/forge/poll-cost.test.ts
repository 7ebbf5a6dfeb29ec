// The page polls a running job about once a second. Each poll used to ask Bitbucket twice (the
// person's permission and the repository, as the app); now the person who started the job reads its
// record and nothing else, while anyone else is still checked as the repository's admin.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bb, errorOf, PROJECTS, startHarness, valueOf, vh, type Harness, type SentRequest } from './support/forge-fixture';

let h: Harness;
const sent: SentRequest[] = [];

before(async () => {
  h = await startHarness({ record: (r) => sent.push(r) });
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
});
after(async () => {
  await h?.close();
});

test('a progress poll by whoever started the job sends no Bitbucket request; others are checked and refused as before', async () => {
  const { jobId } = valueOf(
    await h.call('startConnect', { projectId: PROJECTS.training.id, ref: 'main', keyType: 'ed25519', submodules: false }, h.context('admin', 'ml-models')),
  );
  sent.length = 0;
  for (let i = 0; i < 5; i++) {
    const job = valueOf(await h.call('getJob', { jobId }, h.context('admin', 'ml-models')));
    assert.equal(job.id, jobId);
  }
  assert.equal(sent.length, 0, `five polls by the admin who started the job asked Bitbucket: ${JSON.stringify(sent)}`);
  await h.platform.idle();

  // Someone else is checked with Bitbucket, and a writer is refused.
  const refused = errorOf(await h.call('getJob', { jobId }, h.context('writer', 'ml-models')));
  assert.equal(refused.code, 'not-admin');
  assert.ok(sent.some((r) => r.via === 'user'), "the writer's permission was asked of Bitbucket");

  // The starter's own job, asked from another repository's page, is not found there.
  assert.equal(errorOf(await h.call('getJob', { jobId }, h.context('admin', 'inference-api'))).code, 'not-found');
});
