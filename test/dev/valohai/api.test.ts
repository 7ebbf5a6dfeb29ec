import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { demoValohaiCredentials, demoValohaiSeed, DuplicateRepositoryIdError, startValohaiEmulator, ValohaiState } from '../../../dev/valohai/index';
import { run } from '../ssh-host/support/git-world';
import { call, obj, OTHER_TOKEN, startStack, TOKEN, type Stack } from './support/valohai-fixture';

let stack: Stack;
let ed25519: string;
let rsaPem: string;
let encrypted: string;
let publicKey: string;

async function keygen(name: string, args: string[]): Promise<string> {
  const path = join(stack.world.root, 'keys', name);
  const res = await run('ssh-keygen', ['-q', ...args, '-C', `${name}@test`, '-f', path]);
  assert.equal(res.code, 0, res.stderr);
  return readFile(path, 'utf8');
}

before(async () => {
  stack = await startStack();
  [ed25519, rsaPem, encrypted] = await Promise.all([
    keygen('ed25519', ['-t', 'ed25519', '-N', '']),
    keygen('rsa-pem', ['-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '']),
    keygen('encrypted', ['-t', 'ed25519', '-N', 'correct horse battery']),
  ]);
  publicKey = await readFile(join(stack.world.root, 'keys', 'ed25519.pub'), 'utf8');
});
after(() => stack.close());

const ALPHA = '00000000-0000-4000-8000-000000000001';
const HIDDEN = '00000000-0000-4000-8000-000000000006';

async function repositoryIdOf(projectId: string): Promise<number> {
  const project = obj(await stack.api(`/projects/${projectId}/`));
  return (project.repository as { id: number }).id;
}

describe('authentication', () => {
  test('a valid token reads its user', async () => {
    const res = await stack.api('/users/me/');
    assert.equal(res.status, 200);
    assert.deepEqual({ ...obj(res), id: undefined }, { id: undefined, username: 'tester', email: 'tester@example.test' });
  });

  test('no token, a wrong token and a malformed header are refused with DRF\'s words', async () => {
    const none = await stack.api('/users/me/', { token: null });
    assert.equal(none.status, 401);
    assert.deepEqual(none.json, { detail: 'Authentication credentials were not provided.' });
    assert.equal(none.headers.get('www-authenticate'), 'Token');
    const wrong = await stack.api('/projects/', { token: 'not-a-token' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, { detail: 'Invalid token.' });
    const bearer = await stack.api('/users/me/', { authorization: `Bearer ${TOKEN}` });
    assert.deepEqual(bearer.json, { detail: 'Authentication credentials were not provided.' });
    const bare = await stack.api('/users/me/', { authorization: 'Token' });
    assert.deepEqual(bare.json, { detail: 'Invalid token header. No credentials provided.' });
  });

  test('an unknown API path answers a JSON 404', async () => {
    const res = await stack.api('/no-such-thing/');
    assert.equal(res.status, 404);
    assert.deepEqual(res.json, { detail: 'Not found.' });
  });
});

describe('projects', () => {
  test('the list holds only projects the user can see, in pages that link to each other', async () => {
    const pages: Record<string, unknown>[] = [obj(await stack.api('/projects/?limit=2'))];
    for (let next = pages[0]?.next; typeof next === 'string'; next = pages[pages.length - 1]?.next) {
      assert.ok(next.startsWith(`${stack.vh.apiUrl}/projects/`), next);
      pages.push(obj(await call(stack.vh.apiUrl, next)));
    }
    // Four acme projects, no-repository and the personal one; not umbrella's.
    assert.deepEqual(pages.map((p) => p.count), [6, 6, 6]);
    assert.deepEqual(
      pages.map((p) => [p.previous, p.next]),
      [
        [null, `${stack.vh.apiUrl}/projects/?limit=2&offset=2`],
        [`${stack.vh.apiUrl}/projects/?limit=2`, `${stack.vh.apiUrl}/projects/?limit=2&offset=4`],
        [`${stack.vh.apiUrl}/projects/?limit=2&offset=2`, null],
      ],
    );
    const names = pages.flatMap((p) => (p.results as { name: string }[]).map((r) => r.name));
    assert.deepEqual(names.sort(), ['alpha', 'beta', 'delta', 'gamma', 'no-repository', 'personal']);
    const other = obj(await stack.api('/projects/', { token: OTHER_TOKEN }));
    assert.deepEqual((other.results as { name: string }[]).map((p) => p.name), ['hidden']);
  });

  test('a project reads with its owner and repository; another organization\'s project is not found', async () => {
    const res = await stack.api(`/projects/${ALPHA}/`);
    assert.equal(res.status, 200);
    const p = obj(res);
    assert.equal(p.id, ALPHA);
    assert.equal(p.name, 'alpha');
    assert.equal((p.owner as { username: string }).username, 'acme');
    const repo = p.repository as { id: unknown; url: unknown; ref: unknown };
    assert.equal(typeof repo.id, 'number');
    assert.equal(repo.url, '');
    const hidden = await stack.api(`/projects/${HIDDEN}/`);
    assert.equal(hidden.status, 404);
    assert.deepEqual(hidden.json, { detail: 'Not found.' });
    assert.equal((await stack.api('/projects/00000000-0000-4000-8000-00000000ffff/')).status, 404);
    assert.equal(obj(await stack.api('/projects/00000000-0000-4000-8000-000000000007/')).repository, null);
  });

  test('ownership options list the user\'s organizations, teams and own name', async () => {
    const res = await stack.api('/projects/ownership_options/');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, ['acme', 'acme:ml', 'tester']);
  });

  test('creating a project: 201 with an unconfigured repository, for an owner among the options', async () => {
    const res = await stack.api('/projects/', { method: 'POST', body: { name: 'created-one', owner: 'acme:ml', description: 'made by a test' } });
    assert.equal(res.status, 201, res.text);
    const p = obj(res);
    assert.match(String(p.id), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal((p.owner as { username: string }).username, 'acme');
    assert.equal(p.team, 'ml');
    assert.equal(p.description, 'made by a test');
    assert.equal((p.repository as { url: string }).url, '');
    assert.equal(obj(await stack.api(`/projects/${String(p.id)}/`)).name, 'created-one');
    assert.equal(stack.vh.state.projectByName('acme', 'created-one')?.id, p.id);
  });

  test('creating a project is refused for an owner not among the options, a duplicate name, or no name', async () => {
    const owner = await stack.api('/projects/', { method: 'POST', body: { name: 'x', owner: 'umbrella' } });
    assert.equal(owner.status, 400);
    assert.deepEqual(owner.json, { owner: ['"umbrella" is not a valid choice.'] });
    const duplicate = await stack.api('/projects/', { method: 'POST', body: { name: 'Alpha', owner: 'acme' } });
    assert.equal(duplicate.status, 400);
    assert.deepEqual(duplicate.json, { non_field_errors: ['The fields owner, name must make a unique set.'] });
    const same = await stack.api('/projects/', { method: 'POST', body: { name: 'alpha', owner: 'tester' } });
    assert.equal(same.status, 201, 'the same name under another owner is fine');
    const nameless = await stack.api('/projects/', { method: 'POST', body: { owner: 'acme' } });
    assert.deepEqual(nameless.json, { name: ['This field is required.'] });
    const blank = await stack.api('/projects/', { method: 'POST', body: { name: '  ', owner: 'acme' } });
    assert.deepEqual(blank.json, { name: ['This field may not be blank.'] });
    const notJson = await stack.api('/projects/', { method: 'POST', body: '{"name": ' });
    assert.equal(notJson.status, 400);
    assert.match(String(obj(notJson).detail), /^JSON parse error/);
  });
});

describe('repository settings', () => {
  test('url, ref and an OpenSSH ed25519 key are saved; the key is never echoed, only that one is set', async () => {
    const id = await repositoryIdOf(ALPHA);
    const res = await stack.api(`/repositories/${id}/`, {
      method: 'PATCH',
      body: { url: 'git@bitbucket.org:acme/alpha.git', ref: 'main', ssh_private_key: ed25519 },
    });
    assert.equal(res.status, 200, res.text);
    assert.doesNotMatch(res.text, /PRIVATE KEY|b3BlbnNzaC1rZXkt/);
    const body = obj(res);
    assert.equal(body.url, 'git@bitbucket.org:acme/alpha.git');
    assert.equal(body.ref, 'main');
    assert.equal(body.ssh_private_key_set, true);
    assert.equal('ssh_private_key' in body, false);
    for (const path of [`/repositories/${id}/`, `/projects/${ALPHA}/`, '/projects/']) {
      const read = await stack.api(path);
      assert.doesNotMatch(read.text, /PRIVATE KEY|b3BlbnNzaC1rZXkt/, path);
    }
    assert.equal(obj(await stack.api(`/repositories/${id}/`)).ssh_private_key_set, true);
    const view = stack.vh.state.repository(id);
    const fingerprint = await run('ssh-keygen', ['-l', '-f', join(stack.world.root, 'keys', 'ed25519.pub')]);
    assert.equal(view?.sshKeySet, true);
    assert.ok(fingerprint.stdout.includes(view?.sshKeyFingerprint ?? '-'), `${fingerprint.stdout} vs ${view?.sshKeyFingerprint}`);
    assert.equal(JSON.stringify(stack.vh.state.project(ALPHA)).includes('PRIVATE KEY'), false);
  });

  test('an RSA key in PKCS#1 PEM (BEGIN RSA PRIVATE KEY) is accepted', async () => {
    const id = await repositoryIdOf('00000000-0000-4000-8000-000000000002');
    const res = await stack.api(`/repositories/${id}/`, { method: 'PATCH', body: { ssh_private_key: rsaPem } });
    assert.equal(res.status, 200, res.text);
    assert.equal(stack.vh.state.repository(id)?.sshKeyType, 'ssh-rsa');
  });

  test('a text that is not a private key, a public key, or an encrypted key is refused and changes nothing', async () => {
    const id = await repositoryIdOf('00000000-0000-4000-8000-000000000003');
    const cases: [string, RegExp][] = [
      ['hello, this is not a key', /not an SSH private key/],
      [publicKey, /public key/],
      [encrypted, /passphrase/],
      ['-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n', /could not be read|not an SSH private key/],
    ];
    for (const [key, message] of cases) {
      const res = await stack.api(`/repositories/${id}/`, { method: 'PATCH', body: { url: 'git@bitbucket.org:acme/changed.git', ssh_private_key: key } });
      assert.equal(res.status, 400, key.slice(0, 30));
      const errors = obj(res).ssh_private_key as string[];
      assert.match(errors[0] ?? '', message);
      assert.equal(res.text.includes(key.trim().split('\n')[1] ?? key), false, 'the refused key is not quoted back');
    }
    const view = stack.vh.state.repository(id);
    assert.equal(view?.sshKeySet, false);
    assert.equal(view?.url, '', 'a refused PATCH changes nothing');
  });

  test('an empty key clears the stored key; a non-string url is refused', async () => {
    const id = await repositoryIdOf('00000000-0000-4000-8000-000000000004');
    assert.equal((await stack.api(`/repositories/${id}/`, { method: 'PATCH', body: { ssh_private_key: ed25519 } })).status, 200);
    assert.equal(stack.vh.state.repository(id)?.sshKeySet, true);
    const cleared = await stack.api(`/repositories/${id}/`, { method: 'PATCH', body: { ssh_private_key: '' } });
    assert.equal(cleared.status, 200);
    assert.equal(obj(cleared).ssh_private_key_set, false);
    assert.equal(stack.vh.state.repository(id)?.sshKeyFingerprint, null);
    const bad = await stack.api(`/repositories/${id}/`, { method: 'PATCH', body: { url: 42 } });
    assert.deepEqual(bad.json, { url: ['Not a valid string.'] });
  });

  test('another organization\'s repository cannot be read or changed', async () => {
    const hiddenRepo = stack.vh.state.project(HIDDEN)?.repository?.id;
    assert.equal(typeof hiddenRepo, 'number');
    assert.equal((await stack.api(`/repositories/${hiddenRepo}/`)).status, 404);
    assert.equal((await stack.api(`/repositories/${hiddenRepo}/`, { method: 'PATCH', body: { url: 'git@bitbucket.org:x/y.git' } })).status, 404);
    assert.equal(stack.vh.state.repository(hiddenRepo ?? 0)?.url, '');
  });

  test('the request log keeps every call but never the key', async () => {
    const patches = stack.vh.requests.filter((r) => r.method === 'PATCH');
    assert.ok(patches.length >= 5);
    for (const entry of stack.vh.requests) {
      assert.doesNotMatch(entry.body, /PRIVATE KEY|b3BlbnNzaC1rZXkt|correct horse/, `${entry.method} ${entry.path}`);
    }
    const withKey = patches.find((r) => r.body.includes('ssh_private_key') && r.status === 200 && r.body.includes('alpha.git'));
    assert.ok(withKey, 'the PATCH is logged');
    assert.equal((JSON.parse(withKey.body) as { ssh_private_key: string }).ssh_private_key, '[redacted]');
    assert.equal((JSON.parse(withKey.body) as { url: string }).url, 'git@bitbucket.org:acme/alpha.git');
  });
});

describe('fault injection', () => {
  test('a rule posted to /__faults fails the next matching call only, then clears', async () => {
    const add = await call(stack.vh.url, '/__faults', { method: 'POST', token: null, body: { method: 'GET', path: '/api/v0/projects/$', status: 503, body: { detail: 'Service unavailable' }, times: 1 } });
    assert.equal(add.status, 201);
    const failed = await stack.api('/projects/');
    assert.equal(failed.status, 503);
    assert.deepEqual(failed.json, { detail: 'Service unavailable' });
    assert.equal((await stack.api('/projects/')).status, 200);
    stack.vh.faults.add({ path: '/users/me/$', malformed: true });
    const malformed = await stack.api('/users/me/');
    assert.equal(malformed.status, 200);
    assert.equal(malformed.json, undefined);
    assert.equal((await call(stack.vh.url, '/__faults', { method: 'DELETE', token: null })).status, 204);
    assert.equal((await stack.api('/users/me/')).status, 200);
  });
});

describe('the demo seed', () => {
  test('the demo admin sees acme/ml-models with an unconfigured repository, and not the outsider\'s project', async () => {
    const vh = await startValohaiEmulator({ seed: demoValohaiSeed, ssh: stack.ssh.endpoint() });
    try {
      const c = demoValohaiCredentials;
      const me = obj(await call(vh.apiUrl, '/users/me/', { token: c.admin.token }));
      assert.equal(me.email, 'admin@acme.test');
      const list = obj(await call(vh.apiUrl, '/projects/', { token: c.admin.token }));
      const projects = list.results as { id: string; name: string; owner: { username: string }; repository: { id: number; url: string } }[];
      assert.deepEqual(projects.map((p) => `${p.owner.username}/${p.name}`), ['acme/ml-models']);
      assert.equal(projects[0]?.id, c.project.id);
      assert.equal(projects[0]?.repository.url, '');
      assert.equal(projects[0]?.repository.id, c.project.repositoryId);
      assert.deepEqual((await call(vh.apiUrl, '/projects/ownership_options/', { token: c.admin.token })).json, ['acme', 'acme:ml-team', 'ada-admin']);
      assert.equal((await call(vh.apiUrl, `/projects/${c.outsiderProject.id}/`, { token: c.admin.token })).status, 404);
    } finally {
      await vh.close();
    }
  });
});

describe('seeding', () => {
  test('a seed that gives two repositories one id, or names an undefined owner, is refused with the fix', () => {
    const users = [{ username: 'u', email: 'u@example.test', tokens: ['t'] }];
    assert.throws(
      () => new ValohaiState({ users, projects: [{ owner: 'u', name: 'a', repository: { id: 7 } }, { owner: 'u', name: 'b', repository: { id: 7 } }] }),
      DuplicateRepositoryIdError,
    );
    assert.throws(() => new ValohaiState({ users, projects: [{ owner: 'nobody', name: 'a' }] }), /does not define/);
    const ok = new ValohaiState({ users, projects: [{ owner: 'u', name: 'a', repository: { id: 1001 } }, { owner: 'u', name: 'b' }] });
    assert.deepEqual(ok.projects.map((p) => p.repository?.id), [1001, 1002]);
  });
});
