/**
 * Fleet work over the 500-repository seed (dev/seed/fleet-seed.ts) with 50 ms added to every Bitbucket
 * answer: the access-key audit as queue work, its stored-token requests per repository (target: 1,
 * plus the listing's pages, which go as the app) and its wall time.
 */
import assert from 'node:assert/strict';
import { createFetchTransport, type BitbucketTransport } from '../src/bitbucket/index';
import { FLEET_REQUESTS_PER_HOUR } from '../src/forge/fleet-budget';
import { createMemoryBackend } from '../src/forge/memory-platform';
import type { TrustedContext } from '../src/forge/platform';
import { generateKeyPair } from '../src/ssh/index';
import { startStack } from '../dev/stack';
import { buildFleetSeed, demoBitbucketCredentials as bb } from '../dev/seed/index';
import { demoValohaiCredentials as vh } from '../dev/valohai/index';
import type { BenchSection } from './lib';

const LATENCY_MS = 50;

export async function benchFleet(): Promise<BenchSection> {
  const built = await buildFleetSeed();
  const repositories = built.facts.repositories.length;
  const stack = await startStack({ built, rateLimitPerHour: 1_000_000 });
  try {
    let tokenRequests = 0;
    let appRequests = 0;
    const transport = (email: string, token: string, count: () => void): BitbucketTransport => {
      const inner = createFetchTransport({ baseUrl: stack.bitbucket.url, email, apiToken: token });
      return { baseUrl: inner.baseUrl, request: (req) => (count(), inner.request(req)) };
    };
    const { platform, backend } = createMemoryBackend({
      bitbucketAsApp: transport(bb.admin.email, bb.admin.token, () => (appRequests += 1)),
      valohaiOrigins: [stack.valohai.url],
      bitbucketAsUser: () => transport(bb.admin.email, bb.admin.token, () => undefined),
      makeBitbucketWithToken: ({ email, token }) => transport(email, token, () => (tokenRequests += 1)),
      generateKey: ({ comment }) => generateKeyPair({ type: 'ed25519', comment }),
    });
    const ws = stack.bitbucket.state.findWorkspace('acme');
    assert.ok(ws);
    const ctx: TrustedContext = { workspaceId: ws.uuid, accountId: bb.admin.accountId };
    const ok = <T>(reply: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.value;
    };
    ok(await backend.resolvers.saveValohaiToken({ host: stack.valohai.url, token: vh.admin.token }, ctx));
    ok(await backend.resolvers.saveBitbucketToken({ email: bb.admin.email, token: bb.admin.token }, ctx));

    stack.bitbucket.faults.add({ path: '.*', latencyMs: LATENCY_MS });
    tokenRequests = 0;
    appRequests = 0;
    const t0 = process.hrtime.bigint();
    ok(await backend.resolvers.startAudit({}, ctx));
    await platform.idle();
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const audit = ok(await backend.resolvers.getAudit({ pageSize: 0 }, ctx)).audit;
    assert.equal(audit?.status, 'done', audit?.progress);
    const perRepository = tokenRequests / repositories;
    return {
      title: `Fleet: access-key audit of ${repositories} repositories, ${LATENCY_MS} ms per Bitbucket call`,
      rows: [
        {
          name: 'audit (queue work, 25 repositories a message)',
          runs: 1,
          medianMs: wallMs,
          p95Ms: wallMs,
          extra: {
            'token requests': tokenRequests,
            'token per repository': Number(perRepository.toFixed(2)),
            'listing pages (as app)': audit?.requests.app ?? 0,
            'as app or person': appRequests,
            'keys found': audit?.keysFound ?? 0,
          },
        },
      ],
      notes: [
        `Target: 1 stored-token request per repository plus the listing's pages: ${perRepository <= 1 ? 'met' : 'not met'} (${tokenRequests} for ${repositories}; the ${audit?.requests.app ?? 0} listing pages go as the app, which Forge counts apart).`,
        `Wall time ${(wallMs / 1000).toFixed(1)} s: 20 queue messages, 5 key listings in flight at a time. Fleet work spends at most ${FLEET_REQUESTS_PER_HOUR} of the token's hour (Bitbucket allows about 1,000): ${tokenRequests <= FLEET_REQUESTS_PER_HOUR ? 'this audit fits in one hour' : 'this audit waits for the next hour part way'}.`,
        'The bulk rotate of 50 connections is not measured: bulk actions are not built yet.',
      ],
    };
  } finally {
    await stack.close();
  }
}
