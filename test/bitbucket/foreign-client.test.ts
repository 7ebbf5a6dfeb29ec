/**
 * The Bitbucket emulator driven by a client nobody here wrote: `bitbucket` (npm), the most used Node
 * client of Bitbucket Cloud's API, on every call the product makes. That client reads the content type
 * of every answer (a 204 included), parses JSON only when the answer says it is JSON, and throws an
 * `HTTPError` carrying `status` and the parsed body as `error` for any status of 400 or more; so each
 * call checks both that the emulator's answer parses the way Bitbucket's do and what the client got.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import bitbucketPackage, { type APIClient } from 'bitbucket';
import {
  ACCOUNT_KEY_MESSAGE,
  DUPLICATE_KEY_MESSAGE,
  NOT_VISIBLE_MESSAGE,
  RETIRED_CHANGE,
  startBitbucketEmulator,
  type BitbucketEmulator,
} from '../../dev/bitbucket/index';
import { demoBitbucketCredentials as creds, demoSeed, ed25519PublicKeyFor } from '../../dev/seed/index';

// The package's Node entry is a CommonJS bundle: its exports arrive as the default export.
const { Bitbucket } = bitbucketPackage as unknown as typeof import('bitbucket');

const WS = 'acme';
const REPO = 'ml-models';
const repo = { workspace: WS, repo_slug: REPO };

let bb: BitbucketEmulator;

function clientAs(who: { email: string; token: string }): APIClient {
  return new Bitbucket({ baseUrl: bb.url, auth: { username: who.email, password: who.token }, notice: false });
}

/** What the client threw, checked to be its HTTPError with `status`. */
async function httpError(call: Promise<unknown>, status: number): Promise<{ status: number; error: unknown }> {
  const err: unknown = await call.then(
    (res) => assert.fail(`expected HTTP ${status}, got an answer: ${JSON.stringify(res).slice(0, 200)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, String(err));
  assert.equal(err.name, 'HTTPError', err.message);
  const e = err as Error & { status: number; error: unknown };
  assert.equal(e.status, status, JSON.stringify(e.error));
  return e;
}

/** The messages of a `{"<field>": [{"message": ...}]}` body, as the client parsed it. */
function fieldMessages(body: unknown, field: string): string[] {
  assert.equal(typeof body, 'object', `expected a parsed JSON body, got ${JSON.stringify(body)}`);
  const entries = (body as Record<string, unknown>)[field];
  assert.ok(Array.isArray(entries), JSON.stringify(body));
  return entries.map((e: { message?: unknown }) => String(e.message));
}

function envelopeMessage(body: unknown): string {
  assert.equal(typeof body, 'object', `expected a parsed JSON body, got ${JSON.stringify(body)}`);
  const o = body as { type?: unknown; error?: { message?: unknown } };
  assert.equal(o.type, 'error');
  return String(o.error?.message);
}

before(async () => {
  bb = await startBitbucketEmulator({ seed: demoSeed });
});
after(async () => {
  await bb.close();
});

describe('the `bitbucket` npm client against the emulator', () => {
  test('access keys: list, add, duplicate add, get, relabel, delete (204), get after delete', async () => {
    const client = clientAs(creds.admin);
    const line = ed25519PublicKeyFor('foreign-client', 'valohai@foreign');

    const empty = await client.repositories.listDeployKeys(repo);
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.data.values, []);

    const added = await client.repositories.createDeployKey({ ...repo, key: line, label: 'valohai-foreign' });
    assert.equal(added.status, 200, 'Bitbucket answers 200, not 201, to an added key');
    assert.equal(added.data.label, 'valohai-foreign');
    assert.equal(added.data.key, line.split(' ').slice(0, 2).join(' '));
    assert.equal(added.data.comment, 'valohai@foreign');
    const id = String(added.data.id);
    assert.match(id, /^\d+$/);

    const listed = await client.repositories.listDeployKeys(repo);
    assert.deepEqual(listed.data.values?.map((k) => String(k.id)), [id]);

    const dup = await httpError(client.repositories.createDeployKey({ ...repo, key: line, label: 'again' }), 400);
    assert.deepEqual(fieldMessages(dup.error, 'key'), [DUPLICATE_KEY_MESSAGE]);

    const one = await client.repositories.getDeployKey({ ...repo, key_id: id });
    assert.equal(one.data.label, 'valohai-foreign');

    // The client sends parameters it does not declare as the JSON body of a PUT.
    const relabel = { ...repo, key_id: id, label: 'valohai-renamed' };
    const put = await client.repositories.updateDeployKey(relabel);
    assert.equal(put.status, 200);
    assert.equal(put.data.label, 'valohai-renamed');
    assert.equal(put.data.key, added.data.key);

    const del = await client.repositories.deleteDeployKey({ ...repo, key_id: id });
    assert.equal(del.status, 204);
    assert.equal(del.data, '', 'read as an empty text, by its content type');
    assert.ok((del.headers as unknown as Record<string, string>)['content-type'], 'the 204 carries a content type');

    const gone = await httpError(client.repositories.getDeployKey({ ...repo, key_id: id }), 404);
    assert.equal(typeof envelopeMessage(gone.error), 'string');
    assert.deepEqual(bb.state.accessKeys(WS, REPO), []);
  });

  test('an account SSH key is refused as an access key, in the field form', async () => {
    const client = clientAs(creds.admin);
    const refused = await httpError(client.repositories.createDeployKey({ ...repo, key: creds.admin.accountSshKey, label: 'mine' }), 400);
    assert.deepEqual(fieldMessages(refused.error, 'key'), [ACCOUNT_KEY_MESSAGE]);
  });

  test('repository reads: one repository, the workspace\'s repositories, a branch, .gitmodules through src', async () => {
    const client = clientAs(creds.admin);
    const one = await client.repositories.get(repo);
    assert.equal(one.data.full_name, `${WS}/${REPO}`);
    assert.match(String(one.data.uuid), /^\{[0-9a-f-]{36}\}$/);
    const ssh = (one.data.links?.clone as { name: string; href: string }[] | undefined)?.find((l) => l.name === 'ssh');
    assert.equal(ssh?.href, `git@bitbucket.org:${WS}/${REPO}.git`);

    const list = await client.repositories.list({ workspace: WS, pagelen: 100 } as { workspace: string });
    const names = (list.data.values ?? []).map((r) => r.full_name);
    assert.ok(names.includes(`${WS}/${REPO}`), names.join(', '));
    assert.ok(!names.some((n) => n?.startsWith('umbrella/')), 'only the workspace asked about');

    const branch = await client.repositories.getBranch({ ...repo, name: 'main' });
    const hash = String((branch.data.target as { hash?: unknown } | undefined)?.hash);
    assert.match(hash, /^[0-9a-f]{40}$/);

    const gitmodules = await client.repositories.readSrc({ ...repo, commit: hash, path: '.gitmodules' });
    assert.equal(gitmodules.status, 200);
    assert.equal(typeof gitmodules.data, 'string', 'raw file text, read as text by its content type');
    assert.match(gitmodules.data as unknown as string, /\[submodule "/);
  });

  test('permission queries: the caller\'s workspace role and repository permission, and the workspace\'s lists', async () => {
    const client = clientAs(creds.admin);
    const role = await client.request('GET /user/workspaces/{workspace}/permission', { workspace: WS });
    assert.equal((role.data as { permission?: unknown }).permission, 'owner');

    const q = `repository.full_name="${WS}/${REPO}"`;
    const mine = await client.request('GET /user/workspaces/{workspace}/permissions/repositories', { workspace: WS, q });
    const values = (mine.data as { values: { permission: string; repository: { full_name: string } }[] }).values;
    assert.deepEqual(values.map((v) => [v.repository.full_name, v.permission]), [[`${WS}/${REPO}`, 'admin']]);

    const members = await client.workspaces.listPermissions({ workspace: WS, q: `user.account_id="${creds.writer.accountId}"` } as { workspace: string });
    assert.deepEqual(members.data.values?.map((m) => m.permission), ['collaborator']);

    const onRepo = await client.workspaces.listPermissionsForRepository({ ...repo, q: `user.account_id="${creds.reader.accountId}"` } as typeof repo);
    assert.deepEqual(onRepo.data.values?.map((p) => p.permission), ['read']);
  });

  test('401 for a bad token, read as the plain text Bitbucket sends', async () => {
    const client = clientAs({ email: creds.admin.email, token: 'not-the-token' });
    const err = await httpError(client.repositories.get(repo), 401);
    assert.equal(typeof err.error, 'string');
    assert.match(err.error as string, /Unauthorized/);
  });

  test('an outsider gets 404 with Bitbucket\'s words for the private repository and for its keys', async () => {
    const client = clientAs(creds.outsider);
    const forRepo = await httpError(client.repositories.get(repo), 404);
    assert.equal(envelopeMessage(forRepo.error), NOT_VISIBLE_MESSAGE);
    const forKeys = await httpError(client.repositories.listDeployKeys(repo), 404);
    assert.equal(envelopeMessage(forKeys.error), NOT_VISIBLE_MESSAGE);
  });

  test('a retired endpoint the client still offers answers 410 with the CHANGE-2770 body', async () => {
    const client = clientAs(creds.admin);
    const err = await httpError(client.user.listPermissionsForRepos({}), 410);
    assert.equal(envelopeMessage(err.error), `${RETIRED_CHANGE} - Functionality has been deprecated`);
  });
});
