/**
 * The preflight before the one unconfirmed Valohai write (setRepository), against the Valohai emulator:
 * OPTIONS on the repository route must list the fields the app writes as writable, or nothing is sent;
 * and where PATCH answers 405 the same settings go with PUT.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { demoValohaiCredentials as vh, demoValohaiSeed, defaultApiSettings, startValohaiEmulator, type ValohaiEmulator } from '../../dev/valohai/index';
import { generateKeyPair } from '../../src/ssh/index';
import { ValohaiClient } from '../../src/valohai/client';
import { ValohaiRepositoryWriteError } from '../../src/valohai/errors';

const REPO = vh.project.repositoryId;
const URL_ = 'git@bitbucket.org:acme/ml-models.git';
// The fetch is never asked for here: no SSH host is needed behind the emulator.
const NO_SSH = { host: '127.0.0.1', port: 9, knownHostsLine: '', aliasHost: 'bitbucket.org' };

let emulator: ValohaiEmulator;
let privateKey: string;

async function fresh(api: Parameters<typeof defaultApiSettings>[0] = {}): Promise<ValohaiEmulator> {
  await emulator?.close();
  emulator = await startValohaiEmulator({ seed: demoValohaiSeed, ssh: NO_SSH, api });
  return emulator;
}

const client = () => new ValohaiClient({ host: emulator.url, token: vh.admin.token, retry: { maxAttempts: 1 } });
const writes = () => emulator.requests.filter((r) => r.method === 'PATCH' || r.method === 'PUT');

before(async () => {
  privateKey = (await generateKeyPair({ type: 'ed25519', comment: 'preflight' })).privateKey;
});
after(() => emulator?.close());

describe('the repository route as Valohai is assumed to be', () => {
  before(() => fresh());
  beforeEach(() => {
    emulator.requests.length = 0;
  });

  test("OPTIONS lists the writable fields, with Valohai's labels", async () => {
    const meta = await client().repositoryMetadata(REPO);
    assert.equal(meta.status, 200);
    const byName = new Map(meta.fields?.map((f) => [f.name, f]));
    assert.deepEqual(
      ['url', 'ref', 'ssh_private_key'].map((n) => [n, byName.get(n)?.readOnly, byName.get(n)?.label]),
      [
        ['url', false, 'URL'],
        ['ref', false, 'Fetch reference'],
        ['ssh_private_key', false, 'SSH private key'],
      ],
    );
    assert.equal(byName.get('id')?.readOnly, true);
    assert.ok(meta.allow.includes('PATCH'));
  });

  test('setRepository reads the metadata once, then writes with PATCH; the pass is kept for the host', async () => {
    await client().setRepository(REPO, { url: URL_, ref: 'main', sshPrivateKey: privateKey });
    assert.deepEqual(
      emulator.requests.map((r) => r.method),
      ['OPTIONS', 'PATCH'],
    );
    assert.equal(emulator.state.repository(REPO)?.sshKeySet, true);
    emulator.requests.length = 0;
    await client().setRepository(REPO, { url: URL_, ref: 'main', sshPrivateKey: privateKey });
    assert.deepEqual(
      emulator.requests.map((r) => r.method),
      ['PATCH'],
      'a second client in the same process trusts the first preflight',
    );
  });
});

describe('a Valohai whose repository settings are named otherwise', () => {
  beforeEach(async () => {
    await fresh({ repositoryFields: { url: 'url', ref: 'fetch_reference', key: 'ssh_private_key' } });
  });

  test('the preflight refuses, naming what Valohai offers and the mode that needs no write', async () => {
    const err = await client().checkRepositoryWrite(REPO).catch((e: unknown) => e);
    assert.ok(err instanceof ValohaiRepositoryWriteError, String(err));
    assert.deepEqual(err.verdict.missing, ['ref']);
    assert.match(err.message, /fetch_reference \("Fetch reference"\)/);
    assert.match(err.message, /ref is not there/);
    assert.match(err.message, /generate the key in Valohai \(Settings › Repository › Generate SSH Key\) and connect with its public key/);
    assert.match(err.message, /stopped before changing anything/);
  });

  test('setRepository sends nothing: no PATCH or PUT, no key stored', async () => {
    await assert.rejects(client().setRepository(REPO, { url: URL_, ref: 'main', sshPrivateKey: privateKey }), ValohaiRepositoryWriteError);
    assert.deepEqual(writes(), []);
    assert.equal(emulator.state.repository(REPO)?.sshKeySet, false);
    assert.ok(!emulator.requests.some((r) => r.body.includes('PRIVATE KEY')));
  });

  test('a refusal is not kept: once Valohai takes the fields, the same host passes', async () => {
    await assert.rejects(client().checkRepositoryWrite(REPO), ValohaiRepositoryWriteError);
    Object.assign(emulator.api, defaultApiSettings());
    await client().checkRepositoryWrite(REPO);
  });

  test('a field Valohai lists as read-only is refused as such', async () => {
    await fresh({ readOnly: ['key'] });
    const err = await client().checkRepositoryWrite(REPO).catch((e: unknown) => e);
    assert.ok(err instanceof ValohaiRepositoryWriteError);
    assert.deepEqual(err.verdict.readOnly, ['ssh_private_key']);
    assert.match(err.message, /ssh_private_key is read-only/);
  });
});

describe('a Valohai that answers 405 to PATCH', () => {
  before(() => fresh({ patch: false }));
  beforeEach(() => {
    emulator.requests.length = 0;
  });

  test('setRepository falls back to PUT, then goes straight to PUT on that host', async () => {
    await client().setRepository(REPO, { url: URL_, ref: 'main', sshPrivateKey: privateKey });
    assert.deepEqual(
      emulator.requests.map((r) => `${r.method} ${r.status}`),
      ['OPTIONS 200', 'PATCH 405', 'PUT 200'],
    );
    assert.deepEqual(
      { url: emulator.state.repository(REPO)?.url, ref: emulator.state.repository(REPO)?.ref, key: emulator.state.repository(REPO)?.sshKeySet },
      { url: URL_, ref: 'main', key: true },
    );
    emulator.requests.length = 0;
    await client().setRepository(REPO, { url: URL_, ref: 'dev', sshPrivateKey: privateKey });
    assert.deepEqual(
      emulator.requests.map((r) => r.method),
      ['PUT'],
    );
  });

  test('clearRepositoryKey with PUT keeps the URL and fetch reference Valohai has', async () => {
    await client().clearRepositoryKey(REPO);
    assert.deepEqual(
      emulator.requests.map((r) => r.method),
      ['GET', 'PUT'],
    );
    const repository = emulator.state.repository(REPO);
    assert.equal(repository?.sshKeySet, false);
    assert.equal(repository?.url, URL_);
    assert.equal(repository?.ref, 'dev');
  });
});
