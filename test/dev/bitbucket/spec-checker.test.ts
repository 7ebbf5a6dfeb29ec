/** The conformance checker itself: it must catch what it is there to catch. */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BitbucketState, RateLimiter, createBitbucketRouter } from '../../../dev/bitbucket/index';
import { SpecChecker, loadBitbucketSpec, type OpenApiSpec } from './support/spec-checker';

let real: SpecChecker;

before(() => {
  real = new SpecChecker(loadBitbucketSpec());
});

describe('route checking', () => {
  test('a route that is not in the spec fails, next to the real routes that pass', () => {
    const state = new BitbucketState({ root: '/nonexistent' });
    const router = createBitbucketRouter({ state, limiter: new RateLimiter(1, () => new Date()), gitHost: 'bitbucket.org' });
    assert.deepEqual(real.unknownRoutes(router.list()), []);
    const ok = () => ({ status: 200 });
    router.on('GET', '/repositories/{workspace}/{repo_slug}/access-keys', ok);
    router.on('PATCH', '/user', ok);
    router.on('GET', '/repositories/{workspace}/{slug}', ok);
    assert.deepEqual(real.unknownRoutes(router.list()), [
      'GET /repositories/{workspace}/{repo_slug}/access-keys',
      'PATCH /user',
      'GET /repositories/{workspace}/{slug}',
    ]);
  });
});

describe('schema checking against the real spec', () => {
  test('wrong types and missing required fields are caught', () => {
    assert.notDeepEqual(real.validateSchema('repository', { type: 'repository', is_private: 'yes' }), []);
    assert.notDeepEqual(real.validateSchema('deploy_key', { id: 1, key: 'ssh-ed25519 AAAA' }), [], '"type" is required');
    assert.notDeepEqual(real.validateSchema('deploy_key', { type: 'deploy_key', last_used: 'yesterday' }), []);
    assert.notDeepEqual(real.validateSchema('error', { type: 'error', error: { detail: 'no message' } }), []);
  });

  test('null optional fields, extra fields and scp-style clone links pass, as real responses need', () => {
    assert.deepEqual(real.validateSchema('deploy_key', { type: 'deploy_key', last_used: null, created_on: '2024-01-01T00:00:00.000000+00:00' }), []);
    assert.deepEqual(real.validateSchema('repository', { type: 'repository', mainbranch: null, links: { clone: [{ name: 'ssh', href: 'git@bitbucket.org:ws/r.git' }], extra: {} } }), []);
    assert.notDeepEqual(real.validateSchema('repository', { type: 'repository', links: { html: { href: 'not a uri' } } }), []);
  });

  test('a value whose type names a sub-schema is checked against it (discriminator over allOf)', () => {
    // repository.owner is an `account`; `nickname` exists only on its sub-schema `user`.
    const owner = (nickname: unknown) => ({ type: 'repository', owner: { type: 'user', nickname } });
    assert.deepEqual(real.validateSchema('repository', owner('ada')), []);
    const errors = real.validateSchema('repository', owner(42));
    assert.ok(errors.some((e) => e.includes('as user')), errors.join('\n'));
  });

  test('responses: the status picks the schema; 204 must be empty; an undocumented JSON status is reported', () => {
    const keys = '/repositories/{workspace}/{repo_slug}/deploy-keys';
    const json = 'application/json';
    assert.ok(real.checkResponse('POST', keys, { status: 200, contentType: json, body: { type: 'deploy_key', key: 5 } }).errors.length > 0);
    assert.deepEqual(real.checkResponse('POST', keys, { status: 400, contentType: json, body: { type: 'error', error: { message: 'bad' } } }), { checked: true, errors: [] });
    assert.equal(real.checkResponse('DELETE', `${keys}/{key_id}`, { status: 204, contentType: '', body: 'x' }).errors.length, 1);
    // Bitbucket's bare field-error form, where the spec declares no 400 body: checked for its shape.
    assert.deepEqual(real.checkResponse('POST', keys, { status: 400, contentType: json, body: { key: [{ message: 'bad' }] } }), { checked: true, errors: [] });
    for (const body of [{}, { key: 'bad' }, { key: [] }, { key: [{ text: 'bad' }] }, { key: [{ message: '' }] }]) {
      assert.ok(real.checkResponse('POST', keys, { status: 400, contentType: json, body }).errors.length > 0, JSON.stringify(body));
    }
    assert.equal(real.checkResponse('GET', '/user', { status: 418, contentType: json, body: { teapot: true } }).errors.length, 1);
    assert.equal(real.checkResponse('GET', '/nope', { status: 200, contentType: json, body: {} }).errors.length, 1);
  });
});

describe('OpenAPI 3.0 quirks on a small spec', () => {
  const tiny = (nullable: boolean): OpenApiSpec => ({
    paths: {},
    components: {
      schemas: {
        thing: {
          type: 'object',
          required: ['a'],
          additionalProperties: false,
          properties: { a: nullable ? { type: 'string', nullable: true } : { type: 'string' }, b: { type: 'integer' } },
        },
      },
    },
  });

  test('nullable: true lets a required field be null; without it null is refused', () => {
    assert.deepEqual(new SpecChecker(tiny(true)).validateSchema('thing', { a: null }), []);
    assert.notDeepEqual(new SpecChecker(tiny(false)).validateSchema('thing', { a: null }), []);
  });

  test('optional fields may be null but keep their type otherwise; extra fields pass', () => {
    const checker = new SpecChecker(tiny(false));
    assert.deepEqual(checker.validateSchema('thing', { a: 'x', b: null, extra: true }), []);
    assert.notDeepEqual(checker.validateSchema('thing', { a: 'x', b: 'two' }), []);
  });
});
