import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { demoBitbucketCredentials } from '../../dev/seed/index';
import { startStack, type Stack } from '../../dev/stack';
import { demoValohaiCredentials } from '../../dev/valohai/index';

let stack: Stack;
let keyDir: string;

before(async () => {
  keyDir = await mkdtemp(join(tmpdir(), 'vb-stack-key-'));
  stack = await startStack();
});
after(async () => {
  await stack?.close();
  await rm(keyDir, { recursive: true, force: true });
});

test('with one access key on ml-models and its Bitbucket submodule repos, Valohai fetches the demo superproject', async () => {
  const keyPath = join(keyDir, 'valohai');
  await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'valohai@acme', '-f', keyPath]);
  const publicKey = (await readFile(`${keyPath}.pub`, 'utf8')).trim();
  const privateKey = await readFile(keyPath, 'utf8');

  const { admin } = demoBitbucketCredentials;
  const basic = `Basic ${Buffer.from(`${admin.email}:${admin.token}`).toString('base64')}`;
  // docs-site is public and reached over https: it needs no key.
  for (const slug of ['ml-models', 'datasets', 'training-lib', 'feature-store']) {
    const res = await fetch(`${stack.bitbucket.url}/repositories/acme/${slug}/deploy-keys`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/json' },
      body: JSON.stringify({ key: publicKey, label: 'valohai' }),
    });
    assert.equal(res.status, 200, `${slug}: ${await res.text()}`);
  }

  const valohai = { authorization: `Token ${demoValohaiCredentials.admin.token}`, 'content-type': 'application/json' };
  const { project } = demoValohaiCredentials;
  const patch = await fetch(`${stack.valohai.apiUrl}/repositories/${project.repositoryId}/`, {
    method: 'PATCH',
    headers: valohai,
    body: JSON.stringify({ url: 'git@bitbucket.org:acme/ml-models.git', ref: 'main', ssh_private_key: privateKey }),
  });
  assert.equal(patch.status, 200, await patch.text());

  const res = await fetch(`${stack.valohai.apiUrl}/projects/${project.id}/fetch/`, { method: 'POST', headers: valohai });
  const body = (await res.json()) as { commits: { identifier: string }[]; errors: string[] };
  assert.deepEqual(body.errors, []);
  const main = await fetch(`${stack.bitbucket.url}/repositories/acme/ml-models/refs/branches/main`, { headers: { authorization: basic } });
  const mainHead = ((await main.json()) as { target: { hash: string } }).target.hash;
  assert.ok(body.commits.some((c) => c.identifier === mainHead), `${mainHead} is among ${JSON.stringify(body.commits)}`);
});
