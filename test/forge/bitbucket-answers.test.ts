// What a person meets on the repository page when Bitbucket answers 404 for a repository the account
// cannot see, or 410 for an API it retired: the resolver and the queued job word each with its fix.
// The answers are the Bitbucket emulator's own bodies, served over HTTP through the stand-ins.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NOT_VISIBLE_MESSAGE } from '../../dev/bitbucket/index';
import { retired } from '../../dev/bitbucket/errors';
import type { JobView } from '../../src/forge/contract';
import { bb, errorOf, PROJECTS, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

let h: Harness;
const REPO = 'inference-api';

before(async () => {
  h = await startHarness();
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
});
beforeEach(() => h.stack.bitbucket.faults.clear());
after(async () => {
  await h?.close();
});

const notVisible = { status: 404, body: { type: 'error', error: { message: NOT_VISIBLE_MESSAGE } } };
const gone = { status: 410, body: retired().body };

describe('the resolver', () => {
  test('a repository Bitbucket will not show (404) is one you cannot see or that does not exist, with the fix', async () => {
    h.stack.bitbucket.faults.add({ method: 'GET', path: `^/2\\.0/repositories/acme/${REPO}/?$`, ...notVisible });
    const error = errorOf(await h.call('previewConnect', { submodules: true }, h.context('admin', REPO)));
    assert.equal(error.code, 'bitbucket-error');
    assert.match(error.message, new RegExp(`^acme/${REPO} is a Bitbucket repository you cannot see or that does not exist \\(404`));
    assert.match(error.message, new RegExp(`ask an admin of acme/${REPO} for access`));
    assert.match(error.fix, /^Check the repository name; if it is right, ask an admin of that repository for access/);
    assert.equal(error.temporary, undefined, 'a 404 is not offered as a passing fault');
  });

  test('an API Bitbucket retired (410) asks for an update of the app, and is not offered as worth retrying', async () => {
    h.stack.bitbucket.faults.add({ method: 'GET', path: '/src/', ...gone });
    const before = h.stack.bitbucket.requests.length;
    const error = errorOf(await h.call('previewConnect', { submodules: true }, h.context('admin', REPO)));
    assert.match(error.message, /^Bitbucket retired an API this app uses \(410 while reading \.gitmodules/);
    assert.match(error.message, /CHANGE-2770/);
    assert.match(error.fix, /update Valohai access for Bitbucket to its latest version; trying again will not help/);
    assert.equal(error.temporary, undefined);
    const srcCalls = h.stack.bitbucket.requests.slice(before).filter((r) => r.path.includes('/src/'));
    assert.equal(srcCalls.length, 1, 'a 410 is asked once, never retried');
  });
});

describe('the queued job', () => {
  async function finished(jobId: string): Promise<JobView> {
    await h.platform.idle();
    const job = valueOf(await h.call('getJob', { jobId }, h.context('admin', 'datasets')));
    assert.ok(['done', 'failed', 'unverified'].includes(job.status), `job still ${job.status}`);
    return job;
  }

  test('a connect whose access-key call Bitbucket retired fails with the words to update the app', async () => {
    h.stack.bitbucket.faults.add({ method: 'POST', path: '/deploy-keys/?$', ...gone });
    const payload = { projectId: PROJECTS.datasets.id, ref: 'main', keyType: 'ed25519' as const, submodules: false };
    const { jobId } = valueOf(await h.call('startConnect', payload, h.context('admin', 'datasets')));
    const job = await finished(jobId);
    assert.equal(job.status, 'failed');
    assert.match(job.error ?? '', /Bitbucket retired an API this app uses \(410 while adding an access key to acme\/datasets\): update the app/);
    assert.deepEqual(h.stack.bitbucket.state.accessKeys('acme', 'datasets'), [], 'nothing was added');
  });
});
