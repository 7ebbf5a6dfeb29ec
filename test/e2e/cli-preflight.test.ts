/**
 * The built CLI against a Valohai whose repository settings take other field names: connect stops
 * before Bitbucket changes, and its message names what Valohai offers and the mode that needs no write.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startStack, type Stack } from '../../dev/stack';
import { DEMO_TARGETS, runCli } from '../support/e2e';

let stack: Stack;
let stateDir: string;

before(async () => {
  stack = await startStack({ valohaiApi: { repositoryFields: { url: 'url', ref: 'ref', key: 'private_key' } } });
  stateDir = await mkdtemp(join(tmpdir(), 'vb-cli-preflight-'));
});
after(async () => {
  await stack.close();
  await rm(stateDir, { recursive: true, force: true });
});

test('connect exits 1 with what Valohai offers and the fix, and no access key is added', async () => {
  const r = await runCli(['connect', 'acme/ml-models', '--project', 'acme/ml-models'], { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: stateDir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /connect failed: Valohai at http:\/\/127\.0\.0\.1:\d+ does not take the repository settings this app writes \(url, ref and ssh_private_key\)/);
  assert.match(r.stderr, /private_key \("SSH private key"\)/);
  assert.match(r.stderr, /ssh_private_key is not there/);
  assert.match(r.stderr, /generate the key in Valohai \(Settings › Repository › Generate SSH Key\) and connect with its public key/);
  for (const slug of DEMO_TARGETS) assert.deepEqual(stack.bitbucket.state.accessKeys('acme', slug), [], `no key on acme/${slug}`);
  assert.ok(!stack.valohai.requests.some((q) => q.method === 'PATCH' || q.method === 'PUT'));
});
