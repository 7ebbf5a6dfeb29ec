/**
 * Every request the Bitbucket client makes must be an operation of Atlassian's published OpenAPI spec,
 * and the deploy-key body must fit what the spec says a deploy key is. The client is driven through
 * every public method (pages, the branch fallback and retries included) and its requests recorded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import formatsModule, { type FormatsPlugin } from 'ajv-formats';
import { BitbucketClient } from '../../src/bitbucket/client';
import { loadBitbucketSpec, pathTemplates } from '../dev/bitbucket/support/spec-checker';
import { errorBody, startFakeBitbucket, type FakeBitbucket } from './fake-bitbucket';

interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  description?: string;
}
interface Spec {
  paths: Record<string, Record<string, Operation> & { parameters?: { name: string; in: string }[] }>;
  components: { schemas: Record<string, unknown> };
}

const spec = loadBitbucketSpec() as unknown as Spec;

const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ?? formatsModule) as FormatsPlugin;

/** Bitbucket-wide pagination parameters, documented once in the API intro rather than per operation. */
const PAGINATION = ['page', 'pagelen'];

const templateOf = pathTemplates(spec);

function publicKeyLine(): string {
  const part = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([part(Buffer.from('ssh-ed25519')), part(randomBytes(32))]).toString('base64')} vh@test`;
}

describe('Bitbucket client requests conform to the official OpenAPI spec', () => {
  let bb: FakeBitbucket;
  const exercised = new Set<string>();

  before(async () => {
    bb = await startFakeBitbucket([
      {
        workspace: 'acme',
        slug: 'models',
        uuid: '{11111111-2222-4333-8444-555555555555}',
        branches: { main: 'a'.repeat(40), 'feature/x': 'b'.repeat(40) },
        files: { ['a'.repeat(40)]: { '.gitmodules': '' } },
        keys: Array.from({ length: 120 }, (_, i) => ({ id: i + 1, key: 'ssh-ed25519 AAAA', label: `k${i}`, last_used: null })),
        permission: 'admin',
      },
    ]);
    const { client } = bb.client();
    // Every public method, through each path it can take.
    const calls: Record<string, () => Promise<unknown>> = {
      getRepository: () => client.getRepository('acme', 'models'),
      listRepositories: async () => {
        const listed = await client.listRepositories('acme');
        assert.deepEqual(listed.map((r) => r.fullName), ['acme/models']);
      },
      getBranchHead: async () => {
        await client.getBranchHead('acme', 'models', 'main');
        bb.faults.add({ path: 'refs/branches/feature%2F', times: 1, status: 404, body: errorBody('Not found') });
        await client.getBranchHead('acme', 'models', 'feature/x');
      },
      getFileAtCommit: () => client.getFileAtCommit('acme', 'models', 'a'.repeat(40), '.gitmodules'),
      listAccessKeys: () => client.listAccessKeys('acme', 'models'),
      addAccessKey: async () => {
        bb.faults.add({ method: 'POST', path: '/deploy-keys$', times: 1, status: 503, body: 'busy' });
        await client.addAccessKey('acme', 'models', { key: publicKeyLine(), label: 'Valohai project abc' });
      },
      deleteAccessKey: () => client.deleteAccessKey('acme', 'models', 1),
      getRepositoryPermission: () => client.getRepositoryPermission('acme', '{11111111-2222-4333-8444-555555555555}'),
      getCurrentUser: () => client.getCurrentUser(),
    };
    const methods = Object.getOwnPropertyNames(BitbucketClient.prototype).filter((m) => m !== 'constructor' && !['values', 'json', 'request'].includes(m));
    assert.deepEqual(methods.filter((m) => !(m in calls)), [], 'every public client method must be exercised here');
    for (const [name, call] of Object.entries(calls)) {
      await call();
      exercised.add(name);
    }
  });
  after(async () => {
    await bb.close();
  });

  it('exercised every method and several pages', () => {
    assert.equal(exercised.size, 9);
    assert.ok(bb.log.some((r) => r.path.includes('page=2')));
  });

  it('uses only operations (method + path template) the spec defines, with declared query parameters', () => {
    const seen = new Set<string>();
    for (const req of bb.log) {
      const url = new URL(`http://x${req.path}`);
      assert.ok(url.pathname.startsWith('/2.0/'), req.path);
      const path = url.pathname.slice('/2.0'.length);
      const template = templateOf(path);
      assert.ok(template, `${req.method} ${path} matches no path of the spec`);
      const item = spec.paths[template];
      const op = item?.[req.method.toLowerCase()];
      assert.ok(op, `${req.method} ${template} is not an operation of the spec`);
      const declared = [...(op.parameters ?? []), ...(item?.parameters ?? [])].filter((p) => p.in === 'query').map((p) => p.name);
      for (const name of url.searchParams.keys()) {
        assert.ok([...declared, ...PAGINATION].includes(name), `query parameter "${name}" is not declared for ${req.method} ${template}`);
      }
      seen.add(`${req.method} ${template}`);
    }
    assert.deepEqual([...seen].sort(), [
      'DELETE /repositories/{workspace}/{repo_slug}/deploy-keys/{key_id}',
      'GET /repositories/{workspace}',
      'GET /repositories/{workspace}/{repo_slug}',
      'GET /repositories/{workspace}/{repo_slug}/deploy-keys',
      'GET /repositories/{workspace}/{repo_slug}/refs/branches',
      'GET /repositories/{workspace}/{repo_slug}/refs/branches/{name}',
      'GET /repositories/{workspace}/{repo_slug}/src/{commit}/{path}',
      'GET /user',
      'GET /user/workspaces/{workspace}/permissions/repositories',
      'POST /repositories/{workspace}/{repo_slug}/deploy-keys',
    ]);
  });

  it('sends deploy-key bodies that fit the spec\'s deploy key, with the fields its example sends', () => {
    const op = spec.paths['/repositories/{workspace}/{repo_slug}/deploy-keys']?.post;
    assert.ok(op);
    // The spec gives this operation no requestBody schema; it documents the body by a curl example and
    // describes the resource as `deploy_key`. The request must carry exactly the example's fields, each
    // typed as the deploy_key schema types it.
    const example = /-d\s*\\?\s*'(\{[\s\S]*?\})'/.exec(op.description ?? '')?.[1];
    assert.ok(example, 'the spec\'s curl example body was found');
    const exampleBody = JSON.parse(example) as Record<string, unknown>;
    const deployKey = spec.components.schemas.deploy_key as { allOf: [unknown, { properties: Record<string, unknown> }] };
    const ownProps = deployKey.allOf[1].properties;
    const fields = Object.keys(exampleBody);
    const schema = {
      type: 'object',
      required: fields,
      additionalProperties: false,
      properties: Object.fromEntries(fields.map((f) => [f, ownProps[f]])),
    };
    assert.ok(fields.every((f) => ownProps[f] !== undefined), 'the example\'s fields are deploy_key properties');
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    assert.ok(validate(exampleBody), 'the spec\'s own example fits');
    const posts = bb.log.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 2, 'the first POST was retried after a 503');
    for (const post of posts) {
      const body = JSON.parse(post.body) as unknown;
      assert.ok(validate(body), JSON.stringify(validate.errors));
      assert.equal(post.contentType, 'application/json');
    }
  });
});
