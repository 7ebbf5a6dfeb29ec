/**
 * Bitbucket requests made with the workspace admin's stored API token (about 1,000 an hour for that
 * user): per Forge connect and rotate, per target; per page load (repository page for an admin and for
 * a member, the workspace page) and progress poll; per push that leaves `.gitmodules` alone; per
 * scheduled check; and the preview of a 300-entry `.gitmodules`, which discovery caps. Counted through
 * the Forge backend (its resolvers, queue consumer, push and scheduled triggers) over the stand-ins.
 * Counts, not times: runs are 0.
 */
import assert from 'node:assert/strict';
import { createFetchTransport, emptyHour, spentInHour, type BitbucketTransport } from '../src/bitbucket/index';
import { KvTokenHourStore, tokenAccount } from '../src/forge/store/token-ledger';
import { DISCOVERY_LIMITS } from '../src/connect/index';
import { createMemoryBackend } from '../dev/forge/memory-platform';
import type { TrustedContext } from '../src/forge/platform/ports';
import { generateKeyPair } from '../src/ssh/index';
import { startStack } from '../dev/stack';
import { demoBitbucketCredentials as bb, demoSeed, demoWithRepos, libraryRepos, type Seed } from '../dev/seed/index';
import { demoValohaiCredentials as vh } from '../dev/valohai/index';
import type { BenchSection } from './lib';

const SUBMODULES = 10;
const WIDE = 300;

/**
 * The stored token's requests before repository reads of the app's own workspace went as the app and
 * the job's permission check became one request per workspace (same seed, same steps): history, told
 * in a note.
 */
const BEFORE = { connect: 66, rotate: 77, adminPage: 44 } as const;

function seed(): Seed {
  const libs = libraryRepos(SUBMODULES);
  const wide = Array.from({ length: WIDE }, (_, i) => `[submodule "v${i}"]\n\tpath = v${i}\n\turl = ../lib-${i % SUBMODULES}-${i}.git\n`).join('');
  return demoWithRepos(
    [
      ...libs,
      {
        slug: 'monorepo',
        commits: [
          {
            message: 'Superproject',
            files: { 'README.md': '# Monorepo\n' },
            submodules: libs.map(({ slug }) => ({ path: `libs/${slug}`, url: `../${slug}.git`, target: { repo: `acme/${slug}` } })),
          },
        ],
      },
      { slug: 'wide', commits: [{ message: `${WIDE} submodules`, files: { 'README.md': '# Wide\n', '.gitmodules': wide } }] },
    ],
    { repoPermissions: [...(demoSeed.repoPermissions ?? []), { workspace: 'acme', repo: 'monorepo', email: bb.writer.email, permission: 'write' }] },
  );
}

export async function benchRequests(): Promise<BenchSection> {
  const stack = await startStack({ seed: seed(), rateLimitPerHour: 1_000_000 });
  try {
    let tokenRequests = 0;
    // Requests made as the app or as the person (their own budgets, not the stored token's).
    let ownRequests = 0;
    const transport = (email: string, token: string): BitbucketTransport => {
      const inner = createFetchTransport({ baseUrl: stack.bitbucket.url, email, apiToken: token });
      return { request: (req) => ((ownRequests += 1), inner.request(req)) };
    };
    const people = [bb.admin, bb.writer, bb.reader];
    const byAccount = new Map<string, BitbucketTransport>(people.map((p) => [p.accountId, transport(p.email, p.token)]));
    const { platform, backend } = createMemoryBackend({
      bitbucketAsApp: transport(bb.admin.email, bb.admin.token),
      // The Valohai stand-in's address counts as egress the deployment allows.
      valohaiOrigins: [stack.valohai.url],
      bitbucketAsUser: (ctx) => byAccount.get(ctx.accountId) ?? transport('nobody@example.test', 'none'),
      makeBitbucketWithToken: ({ email, token }) => {
        const inner = createFetchTransport({ baseUrl: stack.bitbucket.url, email, apiToken: token });
        return { request: (req) => ((tokenRequests += 1), inner.request(req)) };
      },
      generateKey: ({ comment }) => generateKeyPair({ type: 'ed25519', comment }),
    });
    const ws = stack.bitbucket.state.findWorkspace('acme');
    assert.ok(ws);
    const ctx = (who: { accountId: string }, slug?: string): TrustedContext => ({
      workspaceId: ws.uuid,
      accountId: who.accountId,
      ...(slug ? { repositoryUuid: stack.bitbucket.state.findRepo(ws, slug)?.uuid ?? '' } : {}),
    });
    const ok = <T>(reply: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.value;
    };
    ok(await backend.resolvers.saveValohaiToken({ host: stack.valohai.url, token: vh.admin.token }, ctx(bb.admin)));
    ok(await backend.resolvers.saveBitbucketToken({ email: bb.admin.email, token: bb.admin.token }, ctx(bb.admin)));

    let lastOwn = 0;
    const count = async (fn: () => Promise<unknown>) => {
      const before = tokenRequests;
      const ownBefore = ownRequests;
      await fn();
      await platform.idle();
      lastOwn = ownRequests - ownBefore;
      return tokenRequests - before;
    };
    const readyPage = await count(async () => ok(await backend.resolvers.getRepositoryPage({}, ctx(bb.admin, 'monorepo'))));
    const readyOwn = lastOwn;
    let jobId = '';
    const connectCount = await count(async () => {
      ({ jobId } = ok(await backend.resolvers.startConnect({ projectId: vh.project.id, ref: 'main', keyType: 'ed25519', submodules: true }, ctx(bb.admin, 'monorepo'))));
    });
    const connectOwn = lastOwn;
    const poll = await count(async () => ok(await backend.resolvers.getJob({ jobId }, ctx(bb.admin, 'monorepo'))));
    const pollOwn = lastOwn;
    const targets = SUBMODULES + 1;
    const adminPage = await count(async () => ok(await backend.resolvers.getRepositoryPage({}, ctx(bb.admin, 'monorepo'))));
    const adminOwn = lastOwn;
    const rotateCount = await count(async () => ok(await backend.resolvers.startRotate({}, ctx(bb.admin, 'monorepo'))));
    const rotateOwn = lastOwn;
    const readerPage = await count(async () => ok(await backend.resolvers.getRepositoryPage({}, ctx(bb.writer, 'monorepo'))));
    const workspacePage = await count(async () => ok(await backend.resolvers.getWorkspaceSettings({}, ctx(bb.admin))));
    const workspaceOwn = lastOwn;
    const monorepo = stack.bitbucket.state.findRepo(ws, 'monorepo');
    assert.ok(monorepo);
    const push = await count(async () => {
      await stack.bitbucket.state.pushCommit('acme', 'monorepo', { branch: 'main', message: 'Train longer', files: { 'README.md': '# Monorepo\n\nTrain longer.\n' } });
      const queued = await backend.onPush({ repository: { uuid: monorepo.uuid }, workspace: { uuid: ws.uuid }, push: { ref: 'main' } });
      assert.equal(queued, 'queued');
    });
    const pushOwn = lastOwn;
    // The hourly trigger plans the day's checks (this connection's first is due) and the queue runs them.
    let checksQueued = 0;
    const scheduled = await count(async () => {
      const run = await backend.onSchedule();
      checksQueued = run?.workspaces.reduce((n, w) => n + w.queued.length, 0) ?? 0;
    });
    const scheduledOwn = lastOwn;
    assert.equal(checksQueued, 1, 'the scheduled trigger planned the connection\'s check');
    // The entries name repositories that do not exist, so the preview ends in an error: what it spent is the point.
    const preview = await count(() => backend.resolvers.previewConnect({ submodules: true }, ctx(bb.admin, 'wide')));
    const previewOwn = lastOwn;
    const capped = 3 + 3 * DISCOVERY_LIMITS.perLevel;
    // The token user's hour as the app keeps it (every path writes its requests there): it should hold what the transport saw.
    const ledger = spentInHour((await new KvTokenHourStore(platform.store, platform.clock, tokenAccount({ email: bb.admin.email })).read()) ?? emptyHour(), platform.clock.now());
    const counts = (name: string, extra: Record<string, number | string>) => ({ name, runs: 0, medianMs: 0, p95Ms: 0, extra });
    const perTarget = (n: number) => Number((n / targets).toFixed(1));
    const verdict = (what: string, measured: number, most: number, rule?: string) =>
      measured <= most ? `${what} ${measured} (target ${rule ? `${rule} = ` : ''}${most}: met)` : `${what} ${measured} (target ${rule ? `${rule} = ` : ''}${most}: not met, ${measured - most} over)`;
    return {
      title: 'Bitbucket requests with the stored API token',
      rows: [
        counts('repository page load, admin, not connected', { requests: readyPage, 'per target': 0, target: 0, 'as app or person': readyOwn }),
        counts(`Forge connect, superproject + ${SUBMODULES} submodules`, {
          requests: connectCount,
          'per target': perTarget(connectCount),
          target: `<= ${2 * targets + 1}`,
          'as app or person': connectOwn,
        }),
        counts('progress poll (getJob) by whoever started the job', { requests: poll, 'per target': 0, target: 0, 'as app or person': pollOwn }),
        counts('repository page load, admin, connected', { requests: adminPage, 'per target': perTarget(adminPage), target: 0, 'as app or person': adminOwn }),
        counts(`Forge rotate, superproject + ${SUBMODULES} submodules`, {
          requests: rotateCount,
          'per target': perTarget(rotateCount),
          target: `<= ${3 * targets + 1}`,
          'as app or person': rotateOwn,
        }),
        counts('repository page load, writer (not admin), connected', { requests: readerPage, 'per target': 0, target: 0 }),
        counts('workspace page load (getWorkspaceSettings), admin', { requests: workspacePage, 'per target': 0, target: 0, 'as app or person': workspaceOwn }),
        counts('push that leaves .gitmodules alone (trigger + sync)', { requests: push, 'per target': perTarget(push), target: 0, 'as app or person': pushOwn }),
        counts(`scheduled check (onSchedule + its queued check), ${targets} targets`, {
          requests: scheduled,
          'per target': perTarget(scheduled),
          target: `<= ${targets + 1}`,
          'as app or person': scheduledOwn,
        }),
        counts(`preview of a ${WIDE}-entry .gitmodules`, { requests: preview, 'per target': Number((preview / (DISCOVERY_LIMITS.perLevel + 1)).toFixed(1)), 'as app or person': previewOwn }),
      ],
      notes: [
        `Targets for a superproject with ${SUBMODULES} submodules (${targets} targets), stored-token requests: ` +
          [
            verdict('connected page load', adminPage, 0),
            verdict('workspace page load', workspacePage, 0),
            verdict('progress poll', poll, 0),
            verdict('push without a .gitmodules change', push, 0),
            verdict('connect', connectCount, 2 * targets + 1, '2 per target + 1'),
            verdict('rotate', rotateCount, 3 * targets + 1, '3 per target + 1'),
            verdict('scheduled check', scheduled, targets + 1, '1 per target + 1'),
          ].join('; ') +
          '.',
        'Repository, branch and .gitmodules reads of the app\'s own workspace go as the app (counted in "as app or person": Forge gives the app its own limits); ' +
          'the token lists, adds and removes keys, and checks permissions once per workspace.',
        `Before those reads went as the app and the permission check became one per workspace, the same steps spent ${BEFORE.connect} (connect), ${BEFORE.rotate} (rotate) and ${BEFORE.adminPage} (connected page load, admin) of the token.`,
        `Caps: ${DISCOVERY_LIMITS.perLevel} submodules per level, ${DISCOVERY_LIMITS.total} in all, ${DISCOVERY_LIMITS.depth} levels, ${DISCOVERY_LIMITS.concurrency} requests at a time.`,
        `The ${WIDE}-entry preview is capped at the first ${DISCOVERY_LIMITS.perLevel} submodules: at most ${capped} requests, as the app in its own workspace (uncapped it was ${WIDE + 3}).`,
        `A progress poll spends ${poll + pollOwn} Bitbucket requests (it was 2, as the app and as the person, before polls read only the job record).`,
        `The token user's hour in the app's ledger holds ${ledger.total} requests (${ledger.interactive} by people, ${ledger.unattended} unattended); the token's transport sent ${tokenRequests}: ${ledger.total === tokenRequests ? 'every request counted' : `${tokenRequests - ledger.total} not counted`}.`,
        readerPage === 0 ? 'A member who does not administer the repository spends none of the token.' : `A member's page load spent ${readerPage} requests of the token.`,
      ],
    };
  } finally {
    await stack.close();
  }
}
