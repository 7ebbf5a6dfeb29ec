/**
 * connect asks Valohai whether its repository settings take what the app writes before any key exists
 * on Bitbucket: against a Valohai that names the fetch reference otherwise it stops with nothing added
 * anywhere; against one that answers 405 to PATCH it connects through PUT.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../../dev/stack';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { BitbucketClient, createFetchTransport } from '../../src/bitbucket/index';
import { connect, ownCredentials, type ProgressEvent, type WorkflowDeps } from '../../src/connect/index';
import { generateKeyPair } from '../../src/ssh/index';
import { ValohaiClient } from '../../src/valohai/index';

const TARGETS = ['ml-models', 'datasets', 'training-lib', 'feature-store'];

function depsFor(stack: Stack): WorkflowDeps {
  const { env } = stack;
  return {
    bitbucket: new BitbucketClient({ transport: createFetchTransport({ baseUrl: env.BITBUCKET_API_URL, email: env.BITBUCKET_EMAIL, apiToken: env.BITBUCKET_API_TOKEN }) }),
    valohai: new ValohaiClient({ host: env.VALOHAI_HOST, token: env.VALOHAI_TOKEN }),
    generateKey: ({ type, comment }) => generateKeyPair({ type, comment }),
    authority: ownCredentials,
  };
}

const keysOnBitbucket = (stack: Stack) => TARGETS.flatMap((slug) => stack.bitbucket.state.accessKeys('acme', slug));

describe('connect against a Valohai whose repository settings name the fetch reference otherwise', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ valohaiApi: { repositoryFields: { url: 'url', ref: 'fetch_reference', key: 'ssh_private_key' } } });
  });
  after(() => stack.close());

  test('stops at the preflight: no access key added on Bitbucket, nothing written to Valohai', async () => {
    const events: ProgressEvent[] = [];
    const result = await connect(
      depsFor(stack),
      { workspace: 'acme', repo: 'ml-models', project: demoValohaiCredentials.project.id, submodules: true, keyType: 'ed25519' },
      (e) => events.push(e),
    );
    assert.equal(result.outcome, 'failed');
    assert.match(result.error ?? '', /fetch_reference \("Fetch reference"\)/);
    assert.match(result.error ?? '', /ref is not there/);
    assert.match(result.error ?? '', /Generate SSH Key/);
    assert.deepEqual(keysOnBitbucket(stack), [], 'no access key on any target');
    assert.ok(!stack.bitbucket.requests.some((r) => r.method !== 'GET'), 'Bitbucket got reads only');
    assert.ok(!stack.valohai.requests.some((r) => r.method === 'PATCH' || r.method === 'PUT'), 'Valohai got no write');
    assert.equal(events.find((e) => e.step === 'valohai-preflight' && e.status === 'failed')?.step, 'valohai-preflight');
    assert.ok(!events.some((e) => e.step.startsWith('add-key:') || e.step === 'generate-key'), 'no key made or added');
  });
});

describe('connect against a Valohai that answers 405 to PATCH', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ valohaiApi: { patch: false } });
  });
  after(() => stack.close());

  test('gives Valohai the settings with PUT and verifies the fetch', async () => {
    const result = await connect(depsFor(stack), { workspace: 'acme', repo: 'ml-models', project: demoValohaiCredentials.project.id, submodules: true, keyType: 'ed25519' });
    assert.equal(result.outcome, 'done', result.error);
    assert.equal(result.verified, true);
    assert.deepEqual(
      stack.valohai.requests.filter((r) => r.path.startsWith('/api/v0/repositories/')).map((r) => `${r.method} ${r.status}`),
      ['OPTIONS 200', 'PATCH 405', 'PUT 200'],
    );
    assert.equal(stack.valohai.state.repository(demoValohaiCredentials.project.repositoryId)?.sshKeySet, true);
  });
});
