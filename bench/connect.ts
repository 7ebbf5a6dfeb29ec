/**
 * connect of a superproject with 10 submodule repositories against the stand-ins, with and without
 * 50 ms injected on every API call. Reports the median wall time, the round trips on the critical path
 * (the extra time latency adds, divided by the latency) and the lower bound: key generation + Valohai's
 * own fetch work + the fewest sequential round trips the data dependencies allow.
 */
import { BitbucketClient, createFetchTransport } from '../src/bitbucket/index';
import { connect, disconnect, ownCredentials, type GeneratedKey, type WorkflowDeps } from '../src/connect/index';
import { generateKeyPair } from '../src/ssh/index';
import { ValohaiClient } from '../src/valohai/index';
import { startStack } from '../dev/stack';
import { demoBitbucketCredentials, demoSeed, type Seed } from '../dev/seed/index';
import { type BenchSection, median, row } from './lib';

const LATENCY_MS = 50;
const SUBMODULES = 10;
const RUNS = 5;
/**
 * Fewest sequential round trips: superproject repo → branch head → .gitmodules, then each submodule's
 * repo → head → .gitmodules (to learn it has no submodules of its own), then one parallel round of key
 * adds, Valohai's repository write, and Valohai's fetch.
 */
const MIN_ROUND_TRIPS = 3 + 3 + 1 + 1 + 1;

function benchSeed(): Seed {
  const libs = Array.from({ length: SUBMODULES }, (_, i) => `lib-${i}`);
  return {
    ...demoSeed,
    workspaces: [
      {
        slug: 'bench',
        repos: [
          ...libs.map((slug) => ({ slug, commits: [{ message: `${slug}`, files: { 'README.md': `# ${slug}\n` } }] })),
          {
            slug: 'monorepo',
            commits: [
              {
                message: 'Superproject',
                files: { 'README.md': '# Monorepo\n' },
                submodules: libs.map((slug) => ({ path: `libs/${slug}`, url: `../${slug}.git`, target: { repo: `bench/${slug}` } })),
              },
            ],
          },
        ],
      },
      ...demoSeed.workspaces,
    ],
    memberships: [...(demoSeed.memberships ?? []), { workspace: 'bench', email: demoBitbucketCredentials.admin.email, role: 'owner' }],
  };
}

export async function benchConnect(): Promise<BenchSection> {
  const stack = await startStack({ seed: benchSeed(), rateLimitPerHour: 1_000_000 });
  try {
    let fetchMs: number[] = [];
    let requests = 0;
    const pool: GeneratedKey[] = [];
    let keygenMs = 0;
    const transport = createFetchTransport({
      baseUrl: stack.env.BITBUCKET_API_URL,
      email: stack.env.BITBUCKET_EMAIL,
      apiToken: stack.env.BITBUCKET_API_TOKEN,
    });
    const valohai = new ValohaiClient({ host: stack.env.VALOHAI_HOST, token: stack.env.VALOHAI_TOKEN });
    const deps: WorkflowDeps = {
      authority: ownCredentials,
      bitbucket: new BitbucketClient({
        transport: { request: (r) => ((requests += 1), transport.request(r)) },
      }),
      valohai: {
        findProject: (p) => ((requests += 1), valohai.findProject(p)),
        checkRepositoryWrite: (id) => valohai.checkRepositoryWrite(id),
        repositoryLocationWritable: (id) => valohai.repositoryLocationWritable(id),
        setRepositoryLocation: (id, s) => ((requests += 1), valohai.setRepositoryLocation(id, s)),
        setRepository: (id, s) => ((requests += 1), valohai.setRepository(id, s)),
        clearRepositoryKey: (id) => valohai.clearRepositoryKey(id),
        listCommits: (p, l) => ((requests += 1), valohai.listCommits(p, l)),
        fetchRepository: async (p) => {
          requests += 1;
          const t0 = performance.now();
          try {
            return await valohai.fetchRepository(p);
          } finally {
            fetchMs.push(performance.now() - t0);
          }
        },
      },
      // Keys made beforehand, handed out after the measured median generation time: RSA generation
      // varies several-fold from key to key, which would otherwise drown the latency being measured.
      generateKey: async () => {
        const key = pool.shift();
        if (!key) throw new Error('benchmark key pool ran dry');
        await new Promise((resolve) => setTimeout(resolve, keygenMs));
        return key;
      },
    };
    const input = { workspace: 'bench', repo: 'monorepo', project: 'acme/ml-models', submodules: true };

    const measure = async (latency: number) => {
      stack.bitbucket.faults.clear();
      stack.valohai.faults.clear();
      if (latency) {
        stack.bitbucket.faults.add({ path: '^/2\\.0/', latencyMs: latency });
        stack.valohai.faults.add({ path: '^/api/v0/', latencyMs: latency });
      }
      const walls: number[] = [];
      fetchMs = [];
      let counted = 0;
      for (let i = 0; i < RUNS; i++) {
        const before = requests;
        const t0 = performance.now();
        const result = await connect(deps, input);
        walls.push(performance.now() - t0);
        counted += requests - before;
        if (!result.verified) throw new Error(`benchmark connect did not verify: ${result.error}`);
        await disconnect(deps, input);
      }
      // Disconnect fetches nothing, so every fetch timed here belongs to a connect.
      return { walls, fetch: median(fetchMs) - latency, requestsPerRun: counted / RUNS };
    };

    const keygen: number[] = [];
    for (let i = 0; i < 2 * RUNS; i++) {
      const t0 = performance.now();
      pool.push(await generateKeyPair({ type: 'rsa', comment: 'bench' }));
      keygen.push(performance.now() - t0);
    }
    keygenMs = median(keygen);
    const base = await measure(0);
    const slow = await measure(LATENCY_MS);
    const criticalRoundTrips = (median(slow.walls) - median(base.walls)) / LATENCY_MS;
    const bound = median(keygen) + base.fetch + MIN_ROUND_TRIPS * LATENCY_MS;
    const ratio = median(slow.walls) / bound;
    return {
      title: `connect: superproject + ${SUBMODULES} submodule repos, ${LATENCY_MS} ms per API call`,
      rows: [
        row('RSA 4096 key generation', keygen),
        row('connect, no added latency', base.walls, { 'API calls': base.requestsPerRun, 'Valohai fetch work (ms)': Math.round(base.fetch) }),
        row(`connect, ${LATENCY_MS} ms per call`, slow.walls, {
          'API calls': slow.requestsPerRun,
          'critical-path round trips': Number(criticalRoundTrips.toFixed(1)),
          'lower bound (ms)': Math.round(bound),
          'ratio to bound': Number(ratio.toFixed(2)),
        }),
      ],
      notes: [
        `Lower bound = key generation (${Math.round(median(keygen))} ms) + Valohai's own fetch work (${Math.round(base.fetch)} ms) + ${MIN_ROUND_TRIPS} sequential round trips x ${LATENCY_MS} ms.`,
        `Key generation overlaps the Bitbucket reads, so the ratio can be under 1. In the connect runs each key comes from a pool made beforehand, handed out after the median generation time, so key-to-key variance does not blur the latency measured.`,
        ratio <= 1.5 ? `Target met: ${ratio.toFixed(2)}x the bound (target 1.5x).` : `Target missed: ${ratio.toFixed(2)}x the bound (target 1.5x).`,
      ],
    };
  } finally {
    await stack.close();
  }
}
