/**
 * The steps a person watches (the pages' progress lists, the CLI's lines) name keys as Bitbucket's
 * access keys page shows them (a fingerprint), never by Bitbucket's internal key ids, through a whole
 * connect, rotate and disconnect against the stand-ins.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startStack, type Stack } from '../../dev/stack';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { BitbucketClient, createFetchTransport } from '../../src/bitbucket/index';
import { connect, disconnect, ownCredentials, rotate, type ConnectionRecord, type ConnectionStore, type ProgressEvent, type WorkflowDeps } from '../../src/connect/index';
import { generateKeyPair, parsePublicKey } from '../../src/ssh/index';
import { ValohaiClient } from '../../src/valohai/index';

const PROJECT = demoValohaiCredentials.project;
const TARGETS = ['ml-models', 'datasets', 'training-lib', 'feature-store'];

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
});

test('removal steps name the key by its fingerprint, and no step names a Bitbucket key id', async () => {
  const records = new Map<string, ConnectionRecord>();
  const store: ConnectionStore = {
    get: async (repository, projectId) => records.get(`${repository}|${projectId}`),
    put: async (record) => void records.set(`${record.repository}|${record.projectId}`, structuredClone(record)),
    delete: async (repository, projectId) => void records.delete(`${repository}|${projectId}`),
  };
  const { env } = stack;
  const deps: WorkflowDeps = {
    bitbucket: new BitbucketClient({ transport: createFetchTransport({ baseUrl: env.BITBUCKET_API_URL, email: env.BITBUCKET_EMAIL, apiToken: env.BITBUCKET_API_TOKEN }) }),
    valohai: new ValohaiClient({ host: env.VALOHAI_HOST, token: env.VALOHAI_TOKEN }),
    generateKey: generateKeyPair,
    authority: ownCredentials,
    store,
  };
  const events: ProgressEvent[] = [];
  const watch = (e: ProgressEvent) => events.push(e);
  const ids = new Set<number>();
  const fingerprints = new Set<string>();
  const noteKeys = () => {
    for (const slug of TARGETS) {
      for (const k of stack.bitbucket.state.accessKeys('acme', slug)) {
        ids.add(k.id);
        fingerprints.add(parsePublicKey(k.key).fingerprint);
      }
    }
  };
  const input = { workspace: 'acme', repo: 'ml-models', project: PROJECT.id, submodules: true, keyType: 'ed25519' as const };

  await connect(deps, input, watch);
  noteKeys();
  await rotate(deps, input, watch);
  noteKeys();
  await disconnect(deps, { workspace: 'acme', repo: 'ml-models', project: PROJECT.id }, watch);

  const removals = [...new Set(events.filter((e) => e.step.startsWith('delete-key:')).map((e) => e.message))];
  assert.equal(removals.length, 2 * TARGETS.length, `the old keys on rotate, the new ones on disconnect: ${removals.join(' | ')}`);
  for (const message of removals) {
    const shown = /access key (SHA256:[A-Za-z0-9+/]{12})… from acme\//.exec(message)?.[1];
    assert.ok(shown, `"${message}" names the key by its fingerprint`);
    assert.ok([...fingerprints].some((f) => f.startsWith(shown)), `"${message}" names a key that was there`);
  }
  assert.ok(ids.size >= 2 * TARGETS.length);
  for (const e of events) {
    for (const id of ids) assert.doesNotMatch(e.message, new RegExp(`key #?${id}\\b`), `"${e.message}" names key id ${id}`);
  }
});
