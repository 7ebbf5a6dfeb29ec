/**
 * connect, rotate, check and disconnect with a key made in Valohai: the app is given its public half,
 * puts it on every target, never writes a key to Valohai, and verifies by Valohai's own fetch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../../dev/stack';
import { demoValohaiCredentials, REDACTED } from '../../dev/valohai/index';
import { BitbucketClient, createFetchTransport } from '../../src/bitbucket/index';
import {
  check,
  checkGivenPublicKey,
  connect,
  disconnect,
  GivenKeyError,
  normaliseKey,
  ownCredentials,
  rotate,
  type ConnectionRecord,
  type ConnectionStore,
  type ProgressEvent,
  type WorkflowDeps,
} from '../../src/connect/index';
import { generateKeyPair } from '../../src/ssh/index';
import { ValohaiClient } from '../../src/valohai/index';

const TARGETS = ['ml-models', 'datasets', 'training-lib', 'feature-store'];
const PROJECT = demoValohaiCredentials.project;

class MemoryStore implements ConnectionStore {
  readonly records = new Map<string, ConnectionRecord>();
  async get(repository: string, projectId: string) {
    return this.records.get(`${repository}|${projectId}`);
  }
  async put(record: ConnectionRecord) {
    this.records.set(`${record.repository}|${record.projectId}`, structuredClone(record));
  }
  async delete(repository: string, projectId: string) {
    this.records.delete(`${repository}|${projectId}`);
  }
}

function depsFor(stack: Stack, store: ConnectionStore): WorkflowDeps {
  const { env } = stack;
  return {
    bitbucket: new BitbucketClient({ transport: createFetchTransport({ baseUrl: env.BITBUCKET_API_URL, email: env.BITBUCKET_EMAIL, apiToken: env.BITBUCKET_API_TOKEN }) }),
    valohai: new ValohaiClient({ host: env.VALOHAI_HOST, token: env.VALOHAI_TOKEN }),
    generateKey: () => Promise.reject(new Error('no key may be made in this mode')),
    authority: ownCredentials,
    store,
  };
}

const keysOn = (stack: Stack, slug: string) => stack.bitbucket.state.accessKeys('acme', slug).map((k) => k.key);

/** Valohai's "Generate SSH Key", through the page's form. */
async function generateInValohai(stack: Stack): Promise<string> {
  const res = await fetch(`${stack.valohai.settingsPageUrl(PROJECT.owner, PROJECT.name)}generate-key/`, { method: 'POST', headers: { accept: 'application/json' } });
  assert.equal(res.status, 201);
  return ((await res.json()) as { public_key: string }).public_key;
}

/** No request to Valohai ever carried a private key field, redacted or not. */
function assertNoKeyWrite(stack: Stack): void {
  for (const r of stack.valohai.requests) {
    assert.ok(!r.body.includes('ssh_private_key') && !r.body.includes(REDACTED), `${r.method} ${r.path} carried a key`);
    assert.doesNotMatch(r.body, /PRIVATE KEY/);
  }
}

const input = (publicKey: string) => ({ workspace: 'acme', repo: 'ml-models', project: PROJECT.id, submodules: true, publicKey });

describe('checkGivenPublicKey', () => {
  test('a private key is refused by what it is, never quoted', async () => {
    const pair = await generateKeyPair({ type: 'ed25519' });
    const err = (() => {
      try {
        checkGivenPublicKey(pair.privateKey);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof GivenKeyError);
    assert.equal(err.reason, 'private-key');
    assert.match(err.message, /private key, which must never leave Valohai/);
    for (const line of pair.privateKey.split('\n').filter((l) => l.length > 8 && !l.startsWith('-----'))) {
      assert.ok(!err.message.includes(line) && !err.message.includes(line.slice(0, 12)), 'no part of the key in the message');
    }
  });

  test('RSA under 2048 bits and DSA are refused; Ed25519, RSA 2048 and ECDSA pass', async () => {
    assert.throws(() => checkGivenPublicKey('ssh-dss AAAAB3NzaC1kc3MAAACBAP'), GivenKeyError);
    const { generateKeyPairSync } = await import('node:crypto');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(ec.x ?? '', 'base64url'), Buffer.from(ec.y ?? '', 'base64url')]);
    const s = (b: Buffer) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return Buffer.concat([len, b]);
    };
    const blob = Buffer.concat([s(Buffer.from('ecdsa-sha2-nistp256')), s(Buffer.from('nistp256')), s(point)]);
    assert.equal(checkGivenPublicKey(`ecdsa-sha2-nistp256 ${blob.toString('base64')} made-in-valohai`).type, 'ecdsa-sha2-nistp256');
    assert.equal(checkGivenPublicKey((await generateKeyPair({ type: 'ed25519' })).publicKey).type, 'ssh-ed25519');
    assert.equal(checkGivenPublicKey((await generateKeyPair({ type: 'rsa', bits: 2048 })).publicKey).bits, 2048);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const e = Buffer.from(small.e ?? '', 'base64url');
    const n = Buffer.concat([Buffer.from([0]), Buffer.from(small.n ?? '', 'base64url')]);
    const rsa = Buffer.concat([s(Buffer.from('ssh-rsa')), s(e), s(n)]);
    assert.throws(() => checkGivenPublicKey(`ssh-rsa ${rsa.toString('base64')}`), (err: unknown) => err instanceof GivenKeyError && err.reason === 'rsa-too-small');
  });
});

describe('a connection with a key made in Valohai', () => {
  let stack: Stack;
  const store = new MemoryStore();
  let first = '';
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  test('connect: the key on every target, URL and reference written (no key), fetched and verified', async () => {
    first = await generateInValohai(stack);
    const events: ProgressEvent[] = [];
    const result = await connect(depsFor(stack, store), input(first), (e) => events.push(e));
    assert.equal(result.outcome, 'done', result.error);
    assert.equal(result.verified, true);
    assert.equal(result.keySource, 'valohai');
    assert.deepEqual(result.valohaiSettings, { url: 'git@bitbucket.org:acme/ml-models.git', ref: 'main', written: true });
    for (const slug of TARGETS) assert.deepEqual(keysOn(stack, slug), [normaliseKey(first)], slug);
    const repo = stack.valohai.state.project(PROJECT.id)?.repository;
    assert.equal(repo?.url, 'git@bitbucket.org:acme/ml-models.git');
    assert.equal(repo?.generatedPublicKey, first, "Valohai still holds the key it made");
    assert.ok(stack.valohai.state.commits(PROJECT.id).some((c) => c.identifier === result.headCommit));
    const record = await store.get('acme/ml-models', PROJECT.id);
    assert.equal(record?.keySource, 'valohai');
    assert.equal(record?.publicKey, normaliseKey(first));
    assert.equal(record?.targets.length, 4);
    assert.ok(!events.some((e) => e.step === 'generate-key' || e.step === 'valohai-key'));
    assertNoKeyWrite(stack);
  });

  test('check --repair puts the recorded public key back where it was removed by hand', async () => {
    const entry = stack.bitbucket.state.accessKeys('acme', 'datasets')[0];
    assert.ok(entry);
    const repo = stack.bitbucket.state.findRepo('acme', 'datasets');
    const found = repo && stack.bitbucket.state.getAccessKey(repo, entry.id);
    assert.ok(found);
    stack.bitbucket.state.deleteAccessKey(found);
    const checked = await check(depsFor(stack, store), { workspace: 'acme', repo: 'ml-models', project: PROJECT.id, repair: true });
    assert.deepEqual(checked.repaired.map((r) => r.repository), ['acme/datasets']);
    assert.deepEqual(keysOn(stack, 'datasets'), [normaliseKey(first)]);
    assert.equal((await store.get('acme/ml-models', PROJECT.id))?.keySource, 'valohai');
    assertNoKeyWrite(stack);
  });

  test('rotate without a new public key is refused: the app never makes a key for such a connection', async () => {
    const before = TARGETS.map((slug) => keysOn(stack, slug));
    const result = await rotate({ ...depsFor(stack, store) }, { workspace: 'acme', repo: 'ml-models', project: PROJECT.id });
    assert.equal(result.outcome, 'failed');
    assert.match(result.error ?? '', /made in Valohai[\s\S]*Generate SSH Key/);
    assert.deepEqual(TARGETS.map((slug) => keysOn(stack, slug)), before);
    assertNoKeyWrite(stack);
  });

  test('rotate with the same key is refused; with a new one it is added, verified, and the old one leaves every target', async () => {
    const same = await rotate(depsFor(stack, store), input(first));
    assert.equal(same.outcome, 'failed');
    assert.match(same.error ?? '', /already has/);

    const second = await generateInValohai(stack);
    const result = await rotate(depsFor(stack, store), input(second));
    assert.equal(result.outcome, 'done', result.error);
    assert.equal(result.verified, true);
    for (const slug of TARGETS) assert.deepEqual(keysOn(stack, slug), [normaliseKey(second)], slug);
    const record = await store.get('acme/ml-models', PROJECT.id);
    assert.equal(record?.publicKey, normaliseKey(second));
    assert.equal(record?.retired, undefined);
    assert.equal(result.accessKeys.filter((a) => a.status === 'deleted').length, 4);
    assertNoKeyWrite(stack);
  });

  test('disconnect removes the key from every repository and leaves Valohai to the admin', async () => {
    const result = await disconnect(depsFor(stack, store), { workspace: 'acme', repo: 'ml-models', project: PROJECT.id });
    assert.equal(result.outcome, 'done', result.error);
    for (const slug of TARGETS) assert.deepEqual(keysOn(stack, slug), [], slug);
    assert.match(result.warnings.find((w) => w.code === 'valohai-key-left')?.message ?? '', /made in Valohai: remove it in Valohai project ml-models/);
    assert.equal(stack.valohai.state.project(PROJECT.id)?.repository?.sshKeySet, true, 'the app wrote nothing to Valohai');
    assert.equal(await store.get('acme/ml-models', PROJECT.id), undefined);
    assertNoKeyWrite(stack);
  });
});

describe('a key made in Valohai whose repository settings Valohai does not say it takes', () => {
  let stack: Stack;
  const store = new MemoryStore();
  before(async () => {
    stack = await startStack({ valohaiApi: { readOnly: ['url', 'ref', 'key'] } });
  });
  after(() => stack.close());

  test('the key goes on every target and the result names the values to enter; connecting again once they are in verifies', async () => {
    const key = await generateInValohai(stack);
    const result = await connect(depsFor(stack, store), input(key));
    assert.equal(result.outcome, 'unverified');
    assert.deepEqual(result.valohaiSettings, { url: 'git@bitbucket.org:acme/ml-models.git', ref: 'main', written: false });
    assert.match(result.error ?? '', /URL "git@bitbucket\.org:acme\/ml-models\.git" and Fetch reference "main"/);
    for (const slug of TARGETS) assert.deepEqual(keysOn(stack, slug), [normaliseKey(key)], slug);
    assert.ok(!stack.valohai.requests.some((r) => r.method === 'PATCH' || r.method === 'PUT'), 'nothing written to Valohai');
    assert.ok(!stack.valohai.requests.some((r) => r.path.includes('/fetch/')), 'no fetch of the wrong repository');

    // The admin enters them on Valohai's page.
    const form = new URLSearchParams({ url: 'git@bitbucket.org:acme/ml-models.git', ref: 'main' });
    const saved = await fetch(stack.valohai.settingsPageUrl(PROJECT.owner, PROJECT.name), { method: 'POST', redirect: 'manual', body: form });
    assert.equal(saved.status, 303);
    const again = await connect(depsFor(stack, store), input(key));
    assert.equal(again.outcome, 'done', again.error);
    assert.equal(again.verified, true);
    assert.equal(again.valohaiSettings, undefined);
    assert.ok(again.accessKeys.every((a) => a.status === 'present'));
    assertNoKeyWrite(stack);
  });

  test('a key pasted that Valohai does not hold: the fetch is refused and the result says to copy it again', async () => {
    // Valohai's key taken off Bitbucket by hand, and the connection's record lost: a connect with a key
    // Valohai does not hold finds nothing that opens the repositories for Valohai.
    const state = stack.bitbucket.state;
    for (const slug of TARGETS) {
      const repo = state.findRepo('acme', slug);
      for (const k of state.accessKeys('acme', slug)) {
        const entry = repo && state.getAccessKey(repo, k.id);
        if (entry) state.deleteAccessKey(entry);
      }
    }
    const other = (await generateKeyPair({ type: 'ed25519' })).publicKey;
    const result = await connect(depsFor(stack, new MemoryStore()), input(other));
    assert.equal(result.outcome, 'unverified');
    assert.match(result.error ?? '', /Bitbucket refused the key Valohai fetched with/);
    assert.match(result.error ?? '', /Copy the public key from the project's Settings › Repository in Valohai again/);
  });
});
