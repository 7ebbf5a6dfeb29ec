/**
 * Scheduled checks (runHealthCheck) of 100 connections, each a superproject with one submodule
 * repository (two targets), through the Forge backend over the stand-ins: the requests each check
 * records (Bitbucket with the stored token, Bitbucket as the app, Valohai), and the wall time of
 * checking all 100 without and with 50 ms added to every Bitbucket and Valohai call. Valohai's fetch
 * runs real git over SSH in every check.
 */
import assert from 'node:assert/strict';
import { createFetchTransport } from '../src/bitbucket/index';
import { mapBounded } from '../src/connect/saga';
import type { HealthEntry } from '../src/forge/contract';
import { runHealthCheck } from '../src/forge/health/check';
import { createMemoryBackend } from '../dev/forge/memory-platform';
import type { TrustedContext } from '../src/forge/platform/ports';
import { generateKeyPair } from '../src/ssh/index';
import { startStack } from '../dev/stack';
import { demoBitbucketCredentials as bb, demoWithRepos, libraryRepos } from '../dev/seed/index';
import { demoValohaiCredentials as vh, demoValohaiSeed } from '../dev/valohai/index';
import { median, row, type BenchSection } from './lib';

const CONNECTIONS = 100;
const LIBS = 5;
const TARGETS_PER_CONNECTION = 2;
const LATENCY_MS = 50;
/** Checks run side by side, as a scheduled run would spread them. */
const PARALLEL = 10;

const projectId = (i: number) => `7d000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

export async function benchHealth(): Promise<BenchSection> {
  const libs = libraryRepos(LIBS);
  const services = Array.from({ length: CONNECTIONS }, (_, i) => ({
    slug: `svc-${i}`,
    commits: [
      {
        message: 'Service',
        files: { 'README.md': `# svc-${i}\n` },
        submodules: [{ path: 'lib', url: `../lib-${i % LIBS}.git`, target: { repo: `acme/lib-${i % LIBS}` } }],
      },
    ],
  }));
  const stack = await startStack({
    seed: demoWithRepos([...libs, ...services]),
    rateLimitPerHour: 1_000_000,
    valohaiSeed: {
      ...demoValohaiSeed,
      projects: [
        ...(demoValohaiSeed.projects ?? []),
        ...services.map((s, i) => ({ id: projectId(i), owner: 'acme', name: s.slug, repository: { id: 5000 + i, url: '', ref: '' } })),
      ],
    },
  });
  try {
    const transport = (email: string, token: string) => createFetchTransport({ baseUrl: stack.bitbucket.url, email, apiToken: token });
    const { platform, backend } = createMemoryBackend({
      bitbucketAsApp: transport(bb.admin.email, bb.admin.token),
      valohaiOrigins: [stack.valohai.url],
      bitbucketAsUser: () => transport(bb.admin.email, bb.admin.token),
      makeBitbucketWithToken: ({ email, token }) => transport(email, token),
      generateKey: ({ comment }) => generateKeyPair({ type: 'ed25519', comment }),
    });
    const ws = stack.bitbucket.state.findWorkspace('acme');
    assert.ok(ws);
    const ctx = (slug?: string): TrustedContext => ({
      workspaceId: ws.uuid,
      accountId: bb.admin.accountId,
      ...(slug ? { repositoryUuid: stack.bitbucket.state.findRepo(ws, slug)?.uuid ?? '' } : {}),
    });
    const ok = <T>(reply: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.value;
    };
    ok(await backend.resolvers.saveValohaiToken({ host: stack.valohai.url, token: vh.admin.token }, ctx()));
    ok(await backend.resolvers.saveBitbucketToken({ email: bb.admin.email, token: bb.admin.token }, ctx()));
    for (const s of services) {
      ok(await backend.resolvers.startConnect({ projectId: projectId(services.indexOf(s)), ref: 'main', keyType: 'ed25519', submodules: true }, ctx(s.slug)));
      await platform.idle();
    }

    const checkAll = async (latency: number) => {
      stack.bitbucket.faults.clear();
      stack.valohai.faults.clear();
      if (latency) {
        stack.bitbucket.faults.add({ path: '^/2\\.0/', latencyMs: latency });
        stack.valohai.faults.add({ path: '^/api/v0/', latencyMs: latency });
      }
      const each: number[] = [];
      const t0 = performance.now();
      const entries = await mapBounded(services, PARALLEL, async (s) => {
        const t = performance.now();
        const entry = await runHealthCheck(platform, ws.uuid, ctx(s.slug).repositoryUuid ?? '', { trigger: 'schedule' });
        each.push(performance.now() - t);
        return entry;
      });
      const wall = performance.now() - t0;
      stack.bitbucket.faults.clear();
      stack.valohai.faults.clear();
      const done = entries.filter((e): e is HealthEntry => e !== undefined);
      if (done.length !== CONNECTIONS) throw new Error(`${CONNECTIONS - done.length} checks did not run`);
      const unhealthy = done.filter((e) => e.health !== 'healthy');
      if (unhealthy.length) throw new Error(`a benchmark check was ${unhealthy[0]?.health}: ${JSON.stringify(unhealthy[0]?.findings)}`);
      const per = (k: 'bitbucketToken' | 'bitbucketApp' | 'valohai') => Math.max(...done.map((e) => e.requests?.[k] ?? 0));
      return { wall, each, token: per('bitbucketToken'), app: per('bitbucketApp'), valohai: per('valohai') };
    };

    const base = await checkAll(0);
    const slow = await checkAll(LATENCY_MS);
    const limit = TARGETS_PER_CONNECTION + 2;
    const counts = { 'token requests': base.token, 'app requests': base.app, 'Valohai requests': base.valohai };
    return {
      title: `health: scheduled checks of ${CONNECTIONS} connections (${TARGETS_PER_CONNECTION} targets each), ${PARALLEL} at a time`,
      rows: [
        row('one check, no added latency', base.each, counts),
        row(`one check, ${LATENCY_MS} ms per call`, slow.each, {
          ...counts,
          'critical-path round trips': Number(((median(slow.each) - median(base.each)) / LATENCY_MS).toFixed(1)),
        }),
        row(`all ${CONNECTIONS}, no added latency`, [base.wall]),
        row(`all ${CONNECTIONS}, ${LATENCY_MS} ms per call`, [slow.wall]),
      ],
      notes: [
        `Requests are the most any one check recorded. Stored-token target: at most 1 per target + 2 = ${limit}; ` +
          (base.token <= limit ? `met (${base.token}).` : `missed (${base.token}).`),
        `Bitbucket with the token and Valohai together: ${base.token + base.valohai} per check against the same ${limit}: ` +
          (base.token + base.valohai <= limit
            ? 'met.'
            : `missed by ${base.token + base.valohai - limit}: Valohai takes ${base.valohai} (the project, the fetch, its commits after it). ` +
              'The project read stays: it is how a check sees a project re-pointed at another repository, which must stop repairs and fetches there. ' +
              'Before the commit list was read once per check instead of twice, this was one more.'),
        `As the app (Forge's count, not the token's): ${base.app} per check (the superproject, its head and .gitmodules, the submodule's).`,
        `At ${PARALLEL} checks at a time, ${CONNECTIONS} checks take ${(slow.wall / 1000).toFixed(1)} s with ${LATENCY_MS} ms per call; one check's median is ${Math.round(median(slow.each))} ms.`,
      ],
    };
  } finally {
    await stack.close();
  }
}
