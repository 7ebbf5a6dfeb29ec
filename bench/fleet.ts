/**
 * Fleet work over the 500-repository seed (dev/seed/fleet-seed.ts) with 50 ms added to every Bitbucket
 * answer: the access-key audit as queue work, its stored-token requests per repository (target: 1,
 * plus the listing's pages, which go as the app) and its wall time; and the bulk rotate of 50
 * connections, its stored-token requests per repository (target: at most 4) and the git fetches with
 * the key Valohai holds that failed while it ran (target: 0).
 */
import assert from 'node:assert/strict';
import type { BatchView } from '../src/forge/contract';
import { createFetchTransport, type BitbucketTransport } from '../src/bitbucket/index';
import { FLEET_SHARE } from '../src/forge/fleet/budget';
import { createMemoryBackend } from '../dev/forge/memory-platform';
import type { TrustedContext } from '../src/forge/platform/ports';
import { generateKeyPair } from '../src/ssh/index';
import { startStack } from '../dev/stack';
import { buildFleetSeed, demoBitbucketCredentials as bb } from '../dev/seed/index';
import { demoValohaiCredentials as vh } from '../dev/valohai/index';
import { gitReach } from '../test/support/e2e';
import type { BenchSection } from './lib';

const LATENCY_MS = 50;
/** Connections the bulk rotate turns over. */
const ROTATED = 50;
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
    // The backend's clock moves on an hour between the parts, so each starts with the token's hour whole in the ledger.
    let offset = 0;
    const { platform, backend } = createMemoryBackend({
      clock: { now: () => new Date(Date.now() + offset) },
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
    const audited = { token: tokenRequests, app: appRequests };

    // The bulk rotate: 50 connections made in bulk first (latency off), then rotated with it on.
    stack.bitbucket.faults.clear();
    offset += 61 * 60_000;
    const names = built.facts.plain.slice(100, 100 + ROTATED);
    const finished = async (): Promise<BatchView> => {
      await platform.idle();
      for (let hop = 0; hop < 50; hop++) {
        const view = ok(await backend.resolvers.getBatch({ pageSize: 200 }, ctx)).batch;
        assert.ok(view);
        if (view.status === 'done' || view.status === 'cancelled') return view;
        await new Promise((r) => setTimeout(r, 100));
        platform.runDue();
        await platform.idle();
      }
      throw new Error('The bulk action did not finish.');
    };
    ok(await backend.resolvers.startBatch({ action: 'connect', repositories: names, connect: { project: 'new', owner: 'acme', submodules: false } }, ctx));
    const connected = await finished();
    assert.equal(connected.counts.done, ROTATED, connected.progress);
    const valohaiRepository = new Map(
      names.map((full) => {
        const slug = full.split('/')[1] as string;
        const id = stack.valohai.state.projects.find((p) => p.owner === 'acme' && p.name === slug)?.repository?.id;
        assert.ok(id !== undefined, `Valohai project acme/${slug}`);
        return [full, id] as const;
      }),
    );
    const fingerprints = () => names.map((full) => stack.valohai.state.repository(valohaiRepository.get(full) as number)?.sshKeyFingerprint);
    const before = fingerprints();

    offset += 61 * 60_000;
    stack.bitbucket.faults.add({ path: '.*', latencyMs: LATENCY_MS });
    tokenRequests = 0;
    let rotating = true;
    let fetches = 0;
    const fetchFailures: string[] = [];
    // Real fetches, round the 50 repositories, with whatever key Valohai holds at that moment.
    const loop = (async () => {
      for (let i = 0; rotating; i++) {
        const full = names[i % names.length] as string;
        const id = valohaiRepository.get(full) as number;
        const key = stack.valohai.state.keyFor(id);
        if (!key) {
          fetchFailures.push(`${full}: Valohai held no key`);
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        try {
          const [workspace = '', slug = ''] = full.split('/');
          await gitReach(stack, key, workspace, [slug]);
          fetches += 1;
        } catch (err) {
          // A key read just before Valohai switched may be retired while git runs; only a key Valohai still holds shows a gap.
          if (stack.valohai.state.keyFor(id) === key) fetchFailures.push(`${full}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
        }
      }
    })();
    const r0 = process.hrtime.bigint();
    ok(await backend.resolvers.startBatch({ action: 'rotate', repositories: names }, ctx));
    const rotated = await finished();
    const rotateMs = Number(process.hrtime.bigint() - r0) / 1e6;
    rotating = false;
    await loop;
    const changed = fingerprints().filter((f, i) => f !== before[i]).length;
    const rotatePerRepository = tokenRequests / ROTATED;
    const mostOne = Math.max(...rotated.items.map((i) => i.requests ?? 0));
    return {
      title: `Fleet: access-key audit of ${repositories} repositories, ${LATENCY_MS} ms per Bitbucket call`,
      rows: [
        {
          name: 'audit (queue work, 25 repositories a message)',
          runs: 1,
          medianMs: wallMs,
          p95Ms: wallMs,
          extra: {
            'token requests': audited.token,
            'token per repository': Number(perRepository.toFixed(2)),
            'listing pages (as app)': audit?.requests.app ?? 0,
            'as app or person': audited.app,
            'keys found': audit?.keysFound ?? 0,
          },
        },
        {
          name: `bulk rotate of ${ROTATED} connections (${rotated.counts.done} done, ${rotated.counts.failed} failed)`,
          runs: 1,
          medianMs: rotateMs,
          p95Ms: rotateMs,
          extra: {
            'token requests': tokenRequests,
            'token per repository': Number(rotatePerRepository.toFixed(2)),
            'most for one repository': mostOne,
            'git fetches during it': fetches,
            'failed fetches': fetchFailures.length,
            'keys changed in Valohai': changed,
          },
        },
      ],
      notes: [
        `Target: 1 stored-token request per repository plus the listing's pages: ${perRepository <= 1 ? 'met' : 'not met'} (${audited.token} for ${repositories}; the ${audit?.requests.app ?? 0} listing pages go as the app, which Forge counts apart).`,
        `Wall time ${(wallMs / 1000).toFixed(1)} s: 20 queue messages, 5 key listings in flight at a time. Fleet work spends at most ${FLEET_SHARE} of the token user's hour, counted in the app's ledger (Bitbucket allows about 1,000 and tells an API token nothing): ${audited.token <= FLEET_SHARE ? 'this audit fits in one hour' : 'this audit waits for the next hour part way'}.`,
        `Bulk rotate: target at most 4 stored-token requests per repository: ${mostOne <= 4 ? 'met' : 'not met'} (${tokenRequests} for ${ROTATED}, at most ${mostOne} for one; the batch's own steps send none). Each repository is its own rotate job, 3 at a time, make-before-break; wall time ${(rotateMs / 1000).toFixed(1)} s.`,
        `Failed git fetches with the key Valohai held while the batch ran: ${fetchFailures.length} of ${fetches + fetchFailures.length} (target 0: ${fetchFailures.length === 0 ? 'met' : `not met: ${fetchFailures.slice(0, 3).join('; ')}`}).`,
      ],
    };
  } finally {
    await stack.close();
  }
}
