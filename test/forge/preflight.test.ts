// A connect job that creates its Valohai project, against a Valohai whose repository settings name the
// fetch reference otherwise: the preflight runs right after the project is made and stops the job
// before any access key exists, with what Valohai offers and the mode that needs no private key sent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobView } from '../../src/forge/contract';
import { bb, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

let h: Harness;
const REPO = 'inference-api';
const TARGETS = ['inference-api', 'datasets', 'training-lib', 'feature-store'];

before(async () => {
  h = await startHarness({ valohaiApi: { repositoryFields: { url: 'url', ref: 'fetch_reference', key: 'ssh_private_key' } } });
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
});
after(async () => {
  await h?.close();
});

test('the job fails at the preflight: project kept, no key on Bitbucket, nothing written to Valohai', async () => {
  // From here on (saving the token probed its scopes with writes to a repository that does not exist).
  const bitbucketFrom = h.stack.bitbucket.requests.length;
  const { jobId } = valueOf(
    await h.call('startConnect', { newProject: { name: 'inference-new', owner: 'acme' }, ref: 'main', keyType: 'ed25519', submodules: true }, h.context('admin', REPO)),
  );
  await h.platform.idle();
  const job: JobView = valueOf(await h.call('getJob', { jobId }, h.context('admin', REPO)));
  assert.equal(job.status, 'failed');
  const ids = job.steps.map((s) => s.step);
  assert.ok(ids.indexOf('create-project') < ids.indexOf('valohai-preflight'), ids.join(', '));
  assert.equal(job.steps.find((s) => s.step === 'valohai-preflight')?.status, 'failed');
  assert.ok(!ids.some((id) => id.startsWith('add-key:')), ids.join(', '));
  assert.match(job.error ?? '', /fetch_reference \("Fetch reference"\)/);
  assert.match(job.error ?? '', /ref is not there/);
  assert.match(job.error ?? '', /generate the key in Valohai \(Settings › Repository › Generate SSH Key\) and connect with its public key/);
  assert.match(job.error ?? '', /The new Valohai project acme\/inference-new stays in Valohai/);
  for (const slug of TARGETS) assert.deepEqual(h.stack.bitbucket.state.accessKeys('acme', slug), [], `no key on acme/${slug}`);
  assert.ok(!h.stack.bitbucket.requests.slice(bitbucketFrom).some((r) => r.method !== 'GET'), 'Bitbucket got reads only');
  assert.ok(!h.stack.valohai.requests.some((r) => r.method === 'PATCH' || r.method === 'PUT'), 'Valohai got no repository write');
});
