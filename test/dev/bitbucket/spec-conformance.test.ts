/**
 * Every route the emulator serves exists in Bitbucket's official OpenAPI spec with the same method and
 * path template, asks for the scopes and auth types the spec names, and answers with JSON the spec's
 * response schemas accept (leniently: see support/spec-checker.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BITBUCKET_ROUTES } from '../../../dev/bitbucket/index';
import { ed25519PublicKeyFor } from '../../../dev/seed/index';
import { creds, obj, startDemo, type As, type DemoEmulator, type Reply } from './support/fixture';
import { SpecChecker, loadBitbucketSpec, type OpenApiSpec } from './support/spec-checker';

let demo: DemoEmulator;
let spec: OpenApiSpec;
let checker: SpecChecker;

before(async () => {
  spec = loadBitbucketSpec();
  checker = new SpecChecker(spec);
  demo = await startDemo();
});
after(() => demo.bb.close());

const REPO = '/repositories/{workspace}/{repo_slug}';
const writer: As = { email: creds.writer.email, token: creds.writer.token };

interface Sample {
  path: string;
  method?: string;
  body?: unknown;
  as?: As;
  /** Expected status, so that an error sample really exercises the error schema. */
  status: number;
}

/** Calls per route; later samples may use what earlier ones created (`keyId`). */
function samples(keyId: () => number): Record<string, () => Sample[]> {
  const keys = '/repositories/acme/ml-models/deploy-keys';
  return {
    'GET /repositories/{workspace}': () => [
      { path: '/repositories/acme?pagelen=2', status: 200 },
      { path: '/repositories/nobody', status: 404 },
    ],
    [`GET ${REPO}`]: () => [
      { path: '/repositories/acme/ml-models', status: 200 },
      { path: '/repositories/acme/scratch', status: 200 },
      { path: '/repositories/acme/missing', status: 404 },
      // Invisible to the caller: 404 as for a missing one (Bitbucket since 2022); 403 only for a role too low.
      { path: '/repositories/umbrella/vault', status: 404 },
      { path: '/repositories/acme/ml-models', status: 200, as: { email: creds.reader.email, token: creds.reader.token } },
    ],
    [`GET ${REPO}/refs/branches/{name}`]: () => [
      { path: `/repositories/acme/ml-models/refs/branches/${encodeURIComponent('feature/new-model')}`, status: 200 },
      { path: '/repositories/acme/ml-models/refs/branches/missing', status: 404 },
    ],
    [`GET ${REPO}/src/{commit}/{path}`]: () => [
      { path: '/repositories/acme/ml-models/src/main/.gitmodules', status: 200 },
      { path: '/repositories/acme/ml-models/src/main/models', status: 200 },
      { path: '/repositories/acme/ml-models/src/main/missing.txt', status: 404 },
    ],
    [`POST ${REPO}/deploy-keys`]: () => [
      { path: keys, method: 'POST', body: { key: ed25519PublicKeyFor('conformance', 'c@x'), label: 'conformance' }, status: 200 },
      { path: keys, method: 'POST', body: { key: ed25519PublicKeyFor('conformance', 'c@x'), label: 'again' }, status: 400 },
      { path: keys, method: 'POST', body: { key: ed25519PublicKeyFor('w'), label: 'w' }, as: writer, status: 403 },
      { path: keys, method: 'POST', body: { key: ed25519PublicKeyFor('b'), label: 'b' }, as: { bearer: creds.repositoryAccessToken.token }, status: 403 },
    ],
    [`GET ${REPO}/deploy-keys`]: () => [
      { path: keys, status: 200 },
      { path: '/repositories/acme/missing/deploy-keys', status: 404 },
      { path: '/repositories/umbrella/vault/deploy-keys', status: 404 },
      { path: keys, status: 403, as: { email: creds.reader.email, token: creds.reader.token } },
    ],
    [`GET ${REPO}/deploy-keys/{key_id}`]: () => [
      { path: `${keys}/${keyId()}`, status: 200 },
      { path: `${keys}/999999`, status: 404 },
    ],
    [`PUT ${REPO}/deploy-keys/{key_id}`]: () => [
      { path: `${keys}/${keyId()}`, method: 'PUT', body: { label: 'renamed' }, status: 200 },
      { path: `${keys}/${keyId()}`, method: 'PUT', body: { key: ed25519PublicKeyFor('other') }, status: 400 },
    ],
    [`DELETE ${REPO}/deploy-keys/{key_id}`]: () => [
      { path: `${keys}/${keyId()}`, method: 'DELETE', status: 204 },
      { path: `${keys}/${keyId()}`, method: 'DELETE', status: 404 },
    ],
    'GET /user': () => [{ path: '/user', status: 200 }],
    'GET /user/workspaces/{workspace}/permission': () => [
      { path: '/user/workspaces/acme/permission', status: 200 },
      { path: '/user/workspaces/umbrella/permission', status: 403 },
    ],
    'GET /user/workspaces/{workspace}/permissions/repositories': () => [
      { path: `/user/workspaces/acme/permissions/repositories?q=${encodeURIComponent('repository.full_name="acme/ml-models"')}`, status: 200 },
      { path: `/user/workspaces/acme/permissions/repositories?q=${encodeURIComponent('bad query')}`, status: 400 },
    ],
    'GET /workspaces/{workspace}/permissions': () => [
      { path: `/workspaces/acme/permissions?q=${encodeURIComponent(`user.account_id="${creds.writer.accountId}"`)}`, status: 200 },
      { path: '/workspaces/acme/permissions', status: 403, as: creds.outsider },
    ],
    'GET /workspaces/{workspace}/permissions/repositories': () => [
      { path: `/workspaces/acme/permissions/repositories?q=${encodeURIComponent(`user.account_id="${creds.reader.accountId}"`)}`, status: 200 },
      { path: '/workspaces/acme/permissions/repositories', status: 403, as: creds.writer },
    ],
    'GET /workspaces/{workspace}/permissions/repositories/{repo_slug}': () => [
      { path: `/workspaces/acme/permissions/repositories/ml-models?q=${encodeURIComponent(`user.account_id="${creds.reader.accountId}"`)}`, status: 200 },
      { path: '/workspaces/acme/permissions/repositories/ml-models', status: 403, as: creds.writer },
    ],
    'GET /repositories': () => [{ path: '/repositories', status: 410 }],
    'GET /workspaces': () => [{ path: '/workspaces', status: 410 }],
    'GET /user/permissions/repositories': () => [{ path: '/user/permissions/repositories', status: 410 }],
    'GET /user/permissions/workspaces': () => [{ path: '/user/permissions/workspaces', status: 410 }],
  };
}

const opScopes = (op: Record<string, unknown>): string[] =>
  ((op['x-atlassian-oauth2-scopes'] as { scopes: string[] }[] | undefined) ?? []).flatMap((s) => s.scopes).sort();

describe('routes against the spec', () => {
  test('every served route is a spec path template with that method', () => {
    assert.deepEqual(checker.unknownRoutes(demo.bb.routes()), []);
    assert.ok(demo.bb.routes().length >= 12);
  });

  test('every served route asks for the spec\'s scopes and auth types, and the table lists only served routes', () => {
    const served = demo.bb.routes().map((r) => `${r.method} ${r.template}`).sort();
    assert.deepEqual(BITBUCKET_ROUTES.map((r) => `${r.method} ${r.template}`).sort(), served);
    for (const r of BITBUCKET_ROUTES) {
      const op = checker.operation(r.method, r.template);
      assert.ok(op, `${r.method} ${r.template}`);
      assert.deepEqual([...r.scopes].sort(), opScopes(op), `scopes of ${r.method} ${r.template}`);
      assert.deepEqual([...r.authTypes].sort(), [...((op['x-atlassian-auth-types'] as string[] | undefined) ?? [])].sort(), `auth types of ${r.method} ${r.template}`);
      if (r.accessTokens) assert.ok(r.authTypes.includes('forge-oauth2'), `${r.template} lets access tokens in though the spec allows only API tokens`);
    }
  });
});

describe('responses against the spec\'s schemas', () => {
  test('a real call to every route answers as the spec describes', async () => {
    let createdKey: number | undefined;
    const table = samples(() => {
      assert.ok(createdKey, 'the POST sample runs before samples that need a key id');
      return createdKey;
    });
    const order = [
      'GET /repositories/{workspace}',
      `GET ${REPO}`,
      `GET ${REPO}/refs/branches/{name}`,
      `GET ${REPO}/src/{commit}/{path}`,
      `POST ${REPO}/deploy-keys`,
      `GET ${REPO}/deploy-keys`,
      `GET ${REPO}/deploy-keys/{key_id}`,
      `PUT ${REPO}/deploy-keys/{key_id}`,
      `DELETE ${REPO}/deploy-keys/{key_id}`,
      'GET /user',
      'GET /user/workspaces/{workspace}/permission',
      'GET /user/workspaces/{workspace}/permissions/repositories',
      'GET /workspaces/{workspace}/permissions',
      'GET /workspaces/{workspace}/permissions/repositories',
      'GET /workspaces/{workspace}/permissions/repositories/{repo_slug}',
      'GET /repositories',
      'GET /workspaces',
      'GET /user/permissions/repositories',
      'GET /user/permissions/workspaces',
    ];
    const served = demo.bb.routes().map((r) => `${r.method} ${r.template}`);
    assert.deepEqual(served.filter((r) => !(r in table)), [], 'every served route needs sample calls here');
    assert.deepEqual([...order].sort(), [...served].sort());

    const problems: string[] = [];
    for (const route of order) {
      const [method, template] = route.split(' ') as [string, string];
      for (const sample of (table[route] as () => Sample[])()) {
        const reply: Reply = await demo.call(sample.path, { method: sample.method, body: sample.body, as: sample.as });
        if (reply.status !== sample.status) {
          problems.push(`${sample.method ?? 'GET'} ${sample.path}: expected ${sample.status}, got ${reply.status} ${reply.text.slice(0, 200)}`);
          continue;
        }
        if (route === `POST ${REPO}/deploy-keys` && reply.status === 200) createdKey = Number(obj(reply).id);
        const body = reply.json ?? reply.text;
        const { checked, errors } = checker.checkResponse(method, template, { status: reply.status, contentType: reply.contentType, body });
        problems.push(...errors.map((e) => `${sample.path} (${reply.status}): ${e}`));
        const rawFile = route === `GET ${REPO}/src/{commit}/{path}` && reply.status === 200 && reply.contentType.startsWith('text/plain');
        if (!checked && !rawFile) problems.push(`${sample.path} (${reply.status}): not checked (${reply.contentType})`);
        if (template.endsWith('/src/{commit}/{path}') && reply.status === 200 && reply.json !== undefined) {
          for (const entry of (obj(reply).values as unknown[]) ?? []) {
            const type = (entry as { type: string }).type;
            if (type === 'commit_file') problems.push(...checker.validateSchema('commit_file', entry));
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('src ?format=meta answers a commit_file the spec\'s schema accepts', async () => {
    const meta = await demo.call('/repositories/acme/ml-models/src/main/models/config/params.json?format=meta');
    assert.equal(meta.status, 200);
    assert.deepEqual(checker.validateSchema('commit_file', meta.json), []);
  });

  test('a 401 is plain text, as Bitbucket sends it', async () => {
    const res = await demo.call('/repositories/acme/ml-models', { as: 'anonymous' });
    assert.equal(res.status, 401);
    assert.equal(res.json, undefined);
    assert.equal(checker.checkResponse('GET', REPO, { status: 401, contentType: res.contentType, body: res.text }).checked, false);
  });
});
