/**
 * No request leaves the configured Bitbucket or Valohai origin, whatever a server's links or redirects
 * say. Each test runs two real loopback servers: the configured one, and an "other host" that records
 * whether anything reached it (the credentials would travel with it).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BitbucketError } from '../../src/bitbucket/errors';
import { ValohaiError } from '../../src/valohai/errors';
import { startFakeBitbucket, TOKEN, type FakeBitbucket, type FakeRepo } from '../bitbucket/fake-bitbucket';
import { startFakeValohai, VH_TOKEN, type FakeValohai } from '../valohai/fake-valohai';

interface OtherHost {
  url: string;
  received: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** A server that answers everything with a page of nothing and remembers who asked. */
async function startOtherHost(): Promise<OtherHost> {
  const received: OtherHost['received'] = [];
  const server = createServer((req, res) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count: 0, next: null, results: [], values: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const REPO: FakeRepo = {
  workspace: 'acme',
  slug: 'models',
  uuid: '{11111111-2222-4333-8444-555555555555}',
  branches: { main: 'a'.repeat(40) },
  files: {},
  keys: [],
  permission: 'admin',
};

let other: OtherHost;

before(async () => {
  other = await startOtherHost();
});
after(async () => {
  await other.close();
});
beforeEach(() => {
  other.received.length = 0;
});

function assertNothingReachedTheOtherHost(): void {
  assert.deepEqual(
    other.received.map((r) => `${r.method} ${r.url} (authorization: ${r.headers.authorization ? 'sent' : 'none'})`),
    [],
    'a request went to a host that is not the configured one',
  );
}

describe('Valohai client: the token goes only to the configured host', () => {
  let vh: FakeValohai;
  before(async () => {
    vh = await startFakeValohai([{ id: '0184a9b4-1111-4222-8333-444455556666', name: 'models', owner: 'acme', repository: null }]);
  });
  after(async () => {
    await vh.close();
  });
  beforeEach(() => {
    vh.faults.clear();
    vh.log.length = 0;
  });

  const pageWithNext = (next: string) => ({ path: '/projects/$', times: 1, status: 200, body: { count: 2, previous: null, next, results: [] } });

  it('refuses a next link whose path is itself an absolute URL (base + "http://other/…")', async () => {
    vh.faults.add(pageWithNext(`${vh.host}/api/v0/${other.url}/api/v0/projects/?offset=1`));
    const err = await vh.client().client.listProjects().catch((e: unknown) => e);
    assertNothingReachedTheOtherHost();
    assert.ok(err instanceof ValohaiError, String(err));
    assert.equal(err.code, 'malformed_response');
    assert.match(err.message, /next/);
    assert.ok(!err.message.includes(VH_TOKEN));
    assert.equal(vh.log.length, 1, 'nothing more was asked of the configured host either');
  });

  it('refuses the same trick percent-encoded and protocol-relative', async () => {
    for (const path of [encodeURIComponent(`${other.url}/x`), `/${other.url.replace('http:', '')}/x`, `${other.url.replace('http://', 'http:/')}/x`]) {
      vh.faults.clear();
      vh.log.length = 0;
      vh.faults.add(pageWithNext(`${vh.host}/api/v0/${path}`));
      const err = await vh.client().client.listProjects().catch((e: unknown) => e);
      assertNothingReachedTheOtherHost();
      assert.ok(err instanceof ValohaiError, `${path}: ${String(err)}`);
      assert.equal(vh.log.length, 1, path);
    }
  });

  it('refuses a next link to another origin, naming both origins', async () => {
    vh.faults.add(pageWithNext(`${other.url}/api/v0/projects/?limit=100&offset=100`));
    const err = await vh.client().client.listProjects().catch((e: unknown) => e);
    assertNothingReachedTheOtherHost();
    assert.ok(err instanceof ValohaiError, String(err));
    assert.ok(err.message.includes(other.url), err.message);
    assert.ok(err.message.includes(vh.host), err.message);
    assert.equal(vh.log.length, 1);
  });

  it('reports a redirect to another host instead of following it', async () => {
    vh.faults.add({ path: '/users/me/', status: 302, headers: { location: `${other.url}/api/v0/users/me/` }, body: '' });
    const err = await vh.client().client.me().catch((e: unknown) => e);
    assertNothingReachedTheOtherHost();
    assert.ok(err instanceof ValohaiError, String(err));
    assert.equal(err.code, 'redirect');
  });
});

describe('Bitbucket client: the credentials go only to the configured API root', () => {
  let bb: FakeBitbucket;
  before(async () => {
    bb = await startFakeBitbucket([{ ...REPO, keys: [] }]);
  });
  after(async () => {
    await bb.close();
  });
  beforeEach(() => {
    bb.faults.clear();
    bb.log.length = 0;
  });

  const pageWithNext = (next: string) => ({ path: '/deploy-keys', times: 1, status: 200, body: { pagelen: 100, values: [], next } });

  it('reports a redirect to another host instead of following it', async () => {
    bb.faults.add({ path: '/repositories/acme/models$', status: 302, headers: { location: `${other.url}/2.0/repositories/acme/models` }, body: '' });
    const err = await bb.client().client.getRepository('acme', 'models').catch((e: unknown) => e);
    assertNothingReachedTheOtherHost();
    assert.ok(err instanceof BitbucketError, String(err));
    assert.equal(err.code, 'redirect');
    assert.equal(err.retryable, false);
    assert.ok(err.message.includes('302'), err.message);
    assert.ok(!err.message.includes(TOKEN));
    assert.equal(bb.log.length, 1, 'a redirect is not retried');
  });

  it('reports a redirect within the same host too: the API root is given as served', async () => {
    bb.faults.add({ path: '/repositories/acme/models$', status: 301, headers: { location: `${bb.baseUrl}/repositories/acme/models-renamed` }, body: '' });
    const err = await bb.client().client.getRepository('acme', 'models').catch((e: unknown) => e);
    assert.ok(err instanceof BitbucketError, String(err));
    assert.equal(err.code, 'redirect');
    assert.equal(bb.log.length, 1);
  });

  it('refuses a next link to another host', async () => {
    bb.faults.add(pageWithNext(`${other.url}/2.0/repositories/acme/models/deploy-keys?page=2`));
    const err = await bb.client().client.listAccessKeys('acme', 'models').catch((e: unknown) => e);
    assertNothingReachedTheOtherHost();
    assert.ok(err instanceof BitbucketError, String(err));
    assert.equal(err.code, 'malformed_response');
    assert.ok(err.message.includes(other.url), err.message);
    assert.equal(bb.log.length, 1, 'the link was not followed on the configured host either');
  });

  it('refuses a next link outside the API root, or whose path is an absolute URL', async () => {
    for (const next of [
      `${bb.server.url}/other/deploy-keys?page=2`,
      `${bb.baseUrl}/${other.url}/2.0/repositories/acme/models/deploy-keys?page=2`,
      `${bb.baseUrl}//${other.url.replace('http://', '')}/x`,
    ]) {
      bb.faults.clear();
      bb.log.length = 0;
      bb.faults.add(pageWithNext(next));
      const err = await bb.client().client.listAccessKeys('acme', 'models').catch((e: unknown) => e);
      assertNothingReachedTheOtherHost();
      assert.ok(err instanceof BitbucketError, `${next}: ${String(err)}`);
      assert.equal(bb.log.length, 1, next);
    }
  });

  it('follows a next link on the configured root, relative or absolute', async () => {
    bb.faults.add(pageWithNext(`${bb.baseUrl}/repositories/acme/models/deploy-keys?pagelen=100&page=2`));
    assert.deepEqual(await bb.client().client.listAccessKeys('acme', 'models'), []);
    assert.deepEqual(bb.log.map((r) => r.path), ['/2.0/repositories/acme/models/deploy-keys?pagelen=100', '/2.0/repositories/acme/models/deploy-keys?pagelen=100&page=2']);
    assertNothingReachedTheOtherHost();
  });
});
