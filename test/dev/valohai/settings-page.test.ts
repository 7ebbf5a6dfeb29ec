import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePublicKey } from '../../../src/ssh/index';
import { REDACTED } from '../../../dev/valohai/index';
import { obj, startStack, type Stack } from './support/valohai-fixture';

/** The project's repository settings page: Generate SSH Key keeps the private half; the fetch uses it. */
let stack: Stack;
let head: string;
const ALPHA = '00000000-0000-4000-8000-000000000001';
const BETA = '00000000-0000-4000-8000-000000000002';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

async function post(path: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.vh.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: form(fields),
  });
}

async function generate(owner: string, name: string): Promise<{ public_key: string; fingerprint: string }> {
  const res = await post(`/p/${owner}/${name}/settings/repository/generate-key/`, {}, { accept: 'application/json' });
  assert.equal(res.status, 201);
  return (await res.json()) as { public_key: string; fingerprint: string };
}

async function apiFetch(projectId: string): Promise<{ commits: { identifier: string }[]; errors: string[] }> {
  const res = await stack.api(`/projects/${projectId}/fetch/`, { method: 'POST' });
  return obj(res) as never;
}

before(async () => {
  stack = await startStack();
  await stack.world.createRepo('ws', 'super');
  head = await stack.world.commit('ws', 'super', { files: { 'train.py': 'print(1)\n' } });
});

after(async () => {
  await stack?.close();
});

describe('Valohai settings page: Generate SSH Key', () => {
  test('the page shows URL and Fetch reference; saving them changes what the API reads', async () => {
    const saved = await post('/p/acme/alpha/settings/repository/', { url: 'git@bitbucket.org:ws/super.git', ref: 'main' });
    assert.equal(saved.status, 303);
    const page = await (await fetch(`${stack.vh.url}${saved.headers.get('location')}`)).text();
    assert.match(page, /name="url" value="git@bitbucket\.org:ws\/super\.git"[^>]*data-testid="valohai-url"/);
    assert.match(page, /name="ref" value="main"[^>]*data-testid="valohai-ref"/);
    assert.match(page, /Repository settings saved\./);
    assert.match(page, /No SSH key is set\./);
    const project = obj(await stack.api(`/projects/${ALPHA}/`));
    assert.deepEqual(project.repository, { id: stack.vh.state.project(ALPHA)?.repository?.id, url: 'git@bitbucket.org:ws/super.git', ref: 'main' });
  });

  test('a generated key shows its public half only; the fetch fails with "Permission denied (publickey)" until it is on Bitbucket', async () => {
    const made = await generate('acme', 'alpha');
    const parsed = parsePublicKey(made.public_key);
    assert.equal(parsed.type, 'ssh-ed25519');
    assert.equal(parsed.fingerprint, made.fingerprint);
    const view = stack.vh.state.project(ALPHA)?.repository;
    assert.equal(view?.sshKeySet, true);
    assert.equal(view?.sshKeyFingerprint, made.fingerprint);
    assert.equal(view?.generatedPublicKey, made.public_key);

    const page = await (await fetch(stack.vh.settingsPageUrl('acme', 'alpha'))).text();
    assert.ok(page.includes(made.public_key), 'the page shows the public key');
    assert.doesNotMatch(page, /PRIVATE KEY|b3BlbnNzaC1rZXktdjE/, 'the page never shows the private key');
    assert.doesNotMatch(JSON.stringify(obj(await stack.api(`/repositories/${view?.id}/`))), /PRIVATE KEY|b3BlbnNzaC1rZXktdjE/);

    const refused = await apiFetch(ALPHA);
    assert.match(refused.errors[0] ?? '', /Permission denied \(publickey\)/);

    const keyId = stack.world.directory.addKey('ws', 'super', made.public_key);
    const fetched = await apiFetch(ALPHA);
    assert.deepEqual(fetched.errors, []);
    assert.ok(fetched.commits.some((c) => c.identifier === head));
    stack.world.directory.removeKey('ws', 'super', keyId);
  });

  test('generating again replaces the key: the old public key opens nothing for Valohai any more', async () => {
    const first = await generate('acme', 'beta');
    await post('/p/acme/beta/settings/repository/', { url: 'git@bitbucket.org:ws/super.git', ref: 'main' });
    const firstId = stack.world.directory.addKey('ws', 'super', first.public_key);
    assert.deepEqual((await apiFetch(BETA)).errors, []);

    const second = await generate('acme', 'beta');
    assert.notEqual(second.fingerprint, first.fingerprint);
    assert.match((await apiFetch(BETA)).errors[0] ?? '', /Permission denied \(publickey\)/);
    stack.world.directory.addKey('ws', 'super', second.public_key);
    stack.world.directory.removeKey('ws', 'super', firstId);
    assert.deepEqual((await apiFetch(BETA)).errors, []);
  });

  test("the page's Generate and Fetch buttons work as forms, and the request log holds no private key", async () => {
    const made = await post('/p/acme/gamma/settings/repository/generate-key/', { type: 'rsa' });
    assert.equal(made.status, 303);
    const page = await (await fetch(`${stack.vh.url}${made.headers.get('location')}`)).text();
    const line = /data-testid="valohai-public-key">([^<]+)</.exec(page)?.[1] ?? '';
    assert.equal(parsePublicKey(line).type, 'ssh-rsa');
    const fetched = await post('/p/acme/gamma/settings/repository/fetch/');
    const after = await (await fetch(`${stack.vh.url}${fetched.headers.get('location')}`)).text();
    assert.match(after, /Fetch failed: No repository URL is set/);
    const log = JSON.stringify(stack.vh.requests);
    assert.doesNotMatch(log, /PRIVATE KEY|b3BlbnNzaC1rZXktdjE|ssh_private_key/);
    assert.ok(!log.includes(REDACTED));
  });

  test('a change from another origin, or a Host that is not the loopback address, is refused', async () => {
    const foreign = await post('/p/acme/delta/settings/repository/generate-key/', {}, { origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(stack.vh.state.project('00000000-0000-4000-8000-000000000004')?.repository?.sshKeySet, false);
    const unknown = await post('/p/acme/nope/settings/repository/generate-key/');
    assert.equal(unknown.status, 404);
  });
});
