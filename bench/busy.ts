/**
 * A busy workspace for an hour, on the stand-ins with a simulated clock (the memory platform's and the
 * Bitbucket emulator's, shared, moved on a minute at a time): 50 connections of 2 targets each (a
 * superproject and its one submodule repository), each pushed to 10 times in the hour (one push in ten
 * changes `.gitmodules`), the hourly scheduled trigger planning the day's checks, two workspace admins
 * each loading a repository page and the workspace page every minute, an access-key audit of the
 * workspace's 500 repositories and a bulk rotate of 20 connections. After the hour the clock goes on
 * (triggers, delayed queue messages, no new work) until everything has finished.
 *
 * Counted three ways: the emulator's request log, by credential (the stored token, each admin's own
 * requests, the app's: each has its own credential, so they are told apart), with its 429s and the busiest
 * rolling hour; the token's and the app's transports, by the path that sent each request; and the app's
 * ledger of the token user's hour. Run twice: with Bitbucket's 1,000 an hour, then with the emulator
 * allowing 300 (the app's own credential too). Every page load of both admins must render in both runs.
 *
 * Each push and check makes Valohai run a real git fetch over SSH, so the full size takes a while (see
 * bench/results/latest.md for how long); `npm run bench -- busy --scaled` runs SCALED_SIZE instead.
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createFetchTransport, emptyHour, spentInHour, type BitbucketTransport } from '../src/bitbucket/index';
import type { QueueMessage, TrustedContext } from '../src/forge/platform/ports';
import { KvTokenHourStore, tokenAccount } from '../src/forge/store/token-ledger';
import type { HealthRecord } from '../src/forge/store/health-records';
import { bareUuid, keys } from '../src/forge/store/keys';
import { generateKeyPair } from '../src/ssh/index';
import { createMemoryBackend } from '../dev/forge/memory-platform';
import { credentialIdOf } from '../dev/bitbucket/index';
import { startStack } from '../dev/stack';
import { buildFleetSeed, demoBitbucketCredentials as bb, uuidFor, type Seed } from '../dev/seed/index';
import { demoValohaiCredentials as vh, demoValohaiSeed, type ValohaiSeed } from '../dev/valohai/index';
import type { BenchSection, BenchRow } from './lib';

/** How many connections the workspace has, and how many of them the bulk rotate renews. */
export interface BusySize {
  connections: number;
  rotated: number;
}

/** Issue 25's busy workspace: 50 connections of 2 targets, a bulk rotate of 20. */
export const FULL_SIZE: BusySize = { connections: 50, rotated: 20 };
/** A smaller workspace for a quick look (`npm run bench -- busy --scaled`): the same hour, a fifth of the pushes. */
export const SCALED_SIZE: BusySize = { connections: 10, rotated: 10 };

const PUSHES_PER_HOUR = 10;
/** One push in this many changes `.gitmodules`. */
const GITMODULES_EVERY = 10;
const REPOSITORIES = 500;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** After the busy hour, the simulated clock goes on at most this long for waiting work to finish. */
const DRAIN_LIMIT_MINUTES = 6 * 60;
/** Minutes between connects while setting up: the set-up stays well under either limit. */
const SETUP_SPACING_MINUTES = 2;

const superproject = (i: number) => `busy-${String(i).padStart(2, '0')}`;
const library = (i: number) => `${superproject(i)}-lib`;

/** A second workspace admin, who loads pages beside the demo's admin (whose API token is the stored one). */
const admin2 = { email: 'bea@acme.test', token: 'ATATT3xBusyBenchSecondAdmin0007', accountId: '712020:0a1b2c3d-0007-4e5f-8a9b-busyadmin007', nickname: 'bea-admin', displayName: 'Bea Admin' };
/** The app's own requests go with this workspace access token: Bitbucket counts them apart from any user. */
const appToken = bb.workspaceAccessToken.token;

const gitmodulesFor = (i: number, branchLine: boolean) =>
  `[submodule "lib"]\n\tpath = lib\n\turl = ../${library(i)}.git\n${branchLine ? '\tbranch = main\n' : ''}`;

const extendFor = (size: BusySize) => (seed: Seed): Seed => {
  const repos = Array.from({ length: size.connections }, (_, i) => [
    { slug: library(i), commits: [{ message: 'Library', files: { 'README.md': `# ${library(i)}\n` } }] },
    {
      slug: superproject(i),
      commits: [
        { message: 'Pipeline', files: { 'README.md': `# ${superproject(i)}\n`, 'train.py': 'EPOCHS = 0\n' } },
        { message: 'Vendor the library', submodules: [{ path: 'lib', url: `../${library(i)}.git`, target: { repo: `acme/${library(i)}` } }] },
      ],
    },
  ]).flat();
  return {
    ...seed,
    workspaces: seed.workspaces.map((ws) => (ws.slug === 'acme' ? { ...ws, repos: [...ws.repos, ...repos] } : ws)),
    users: [...seed.users, { email: admin2.email, accountId: admin2.accountId, displayName: admin2.displayName, nickname: admin2.nickname }],
    apiTokens: [...(seed.apiTokens ?? []), { email: admin2.email, token: admin2.token, scopes: [...(seed.apiTokens?.[0]?.scopes ?? [])] }],
    memberships: [...(seed.memberships ?? []), { workspace: 'acme', email: admin2.email, role: 'owner' }],
  };
};

const projectId = (i: number) => uuidFor(`busy-project:${i}`).slice(1, -1);

function valohaiSeed(size: BusySize): ValohaiSeed {
  return {
    ...demoValohaiSeed,
    projects: [
      ...(demoValohaiSeed.projects ?? []),
      ...Array.from({ length: size.connections }, (_, i) => ({ id: projectId(i), owner: 'acme', name: superproject(i), repository: { id: 7000 + i, url: '', ref: '' } })),
    ],
  };
}

type Path = 'pages' | 'push handling' | 'scheduled checks' | 'audit' | 'bulk rotate' | 'set-up' | 'other';

const pathOfMessage = (message: QueueMessage): Path | undefined =>
  message.type === 'sync' ? 'push handling' : message.type === 'health' ? 'scheduled checks' : message.type === 'fleet-audit' ? 'audit' : message.type === 'fleet-batch' ? 'bulk rotate' : undefined;

/** Delayed queue messages of one path: how many, the minute the first was delayed, the last one's due minute. */
interface Waited {
  what: string;
  count: number;
  firstAt: number;
  lastDue: number;
}

export interface BusyRun {
  limit: number;
  size: BusySize;
  /** Stored-token requests by path (the token's transport). */
  byPath: Record<string, number>;
  token: number;
  tokenAnswered: number;
  token429: number;
  /** The busiest rolling hour of the token (emulator log) and of the token's user with all their credentials. */
  tokenMaxHour: number;
  userMaxHour: number;
  /** The app's own requests (its credential, counted apart): by path, in the emulator's log, answered 429, its busiest rolling hour. */
  appByPath: Record<string, number>;
  appRequests: number;
  app429: number;
  appMaxHour: number;
  personRequests: number;
  ledgerMax: number;
  ledgerUnattendedMax: number;
  waits: Waited[];
  automaticWaitsUntil: string[];
  /** Page loads by admin, and each one that failed. */
  pageLoads: Record<string, number>;
  pageFailures: string[];
  keptLists: { shown: number; problem: string };
  pushes: number;
  pushesFetched: number;
  gitmodulesPushes: number;
  checksRan: number;
  /** Starting the audit or the bulk rotate, refused (each admin's click that was), with why. */
  refusedStarts: string[];
  audit: { status: string; read: number; total: number | null; startedMinute: number | null; finishedMinute: number | null; token: number };
  batch: { status: string; done: number; failed: string[]; startedMinute: number | null; finishedMinute: number | null; token: number };
  errors: string[];
  lastWorkMinute: number;
  simulatedMinutes: number;
  wallMs: number;
  setupMinutes: number;
}

function maxRollingHour(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let from = 0;
  for (let to = 0; to < sorted.length; to++) {
    while ((sorted[to] as number) - (sorted[from] as number) >= HOUR) from++;
    most = Math.max(most, to - from + 1);
  }
  return most;
}

export async function busyRun(limit: number, size: BusySize = FULL_SIZE): Promise<BusyRun> {
  const { connections: CONNECTIONS, rotated: ROTATED } = size;
  const wall0 = process.hrtime.bigint();
  let nowMs = Math.ceil(Date.now() / HOUR) * HOUR;
  const clock = () => new Date(nowMs);
  const built = await buildFleetSeed({ repositories: REPOSITORIES, clock, extend: extendFor(size) });
  const stack = await startStack({ built, valohaiSeed: valohaiSeed(size), rateLimitPerHour: limit, bitbucketClock: clock });
  try {
    // A long section: where it is, on stderr, so a slow machine shows progress.
    const progress = (what: string) => process.stderr.write(`busy workspace, limit ${limit}: ${what} (${(Number(process.hrtime.bigint() - wall0) / 1e9).toFixed(0)} s)\n`);
    const path = new AsyncLocalStorage<Path>();
    /** Stored-token requests, and the app's own, by the path that sent them. */
    const byPath: Record<string, number> = {};
    const appByPath: Record<string, number> = {};
    const countIn = (counts: Record<string, number>) => () => {
      const p = path.getStore() ?? 'other';
      counts[p] = (counts[p] ?? 0) + 1;
    };
    const transport = (auth: { email: string; token: string } | { bearer: string }, count?: () => void): BitbucketTransport => {
      const inner =
        'bearer' in auth
          ? // The transport speaks Basic; the app's calls go with a Bearer access token in its place.
            createFetchTransport({
              baseUrl: stack.bitbucket.url,
              email: 'app',
              apiToken: 'app',
              fetch: (input, init) => {
                const headers = new Headers(init?.headers);
                headers.set('authorization', `Bearer ${auth.bearer}`);
                return fetch(input, { ...init, headers });
              },
            })
          : createFetchTransport({ baseUrl: stack.bitbucket.url, email: auth.email, apiToken: auth.token });
      return count ? { baseUrl: inner.baseUrl, request: (req) => (count(), inner.request(req)) } : inner;
    };
    // Each admin's own requests (asUser) with an API token of their own; the demo admin's is another token of the token's user.
    const asUser = new Map<string, BitbucketTransport>([
      [bb.admin.accountId, transport({ email: bb.adminWithoutWriteSshKey.email, token: bb.adminWithoutWriteSshKey.token })],
      [admin2.accountId, transport(admin2)],
    ]);
    const { platform, backend } = createMemoryBackend({
      clock: { now: clock },
      realTimers: false,
      bitbucketAsApp: transport({ bearer: appToken }, countIn(appByPath)),
      valohaiOrigins: [stack.valohai.url],
      bitbucketAsUser: (ctx) => asUser.get(ctx.accountId) ?? transport({ email: 'nobody@example.test', token: 'none' }),
      makeBitbucketWithToken: ({ email, token }) => transport({ email, token }, countIn(byPath)),
      generateKey: ({ comment }) => generateKeyPair({ type: 'ed25519', comment }),
    });
    // Queue work is told apart by its message; a job runs for whatever enqueued it (the bulk rotate's jobs).
    platform.setConsumer((message) => {
      const own = pathOfMessage(message as QueueMessage);
      return own ? path.run(own, () => backend.consume(message)) : backend.consume(message);
    });
    const ws = stack.bitbucket.state.findWorkspace('acme');
    assert.ok(ws);
    const wsBare = bareUuid(ws.uuid, 'workspace');
    const repoUuid = (slug: string) => stack.bitbucket.state.findRepo(ws, slug)?.uuid ?? '';
    const ctx = (accountId: string, slug?: string): TrustedContext => ({ workspaceId: ws.uuid, accountId, ...(slug ? { repositoryUuid: repoUuid(slug) } : {}) });
    const ok = <T>(reply: { ok: true; value: T } | { ok: false; error: { message: string } }): T => {
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.value;
    };
    const tick = async (minutes = 1) => {
      nowMs += minutes * MINUTE;
      platform.runDue();
      await platform.idle();
    };

    // Set-up, not measured: the tokens, then the 50 connections, spaced so neither limit is near.
    await path.run('set-up', async () => {
      ok(await backend.resolvers.saveValohaiToken({ host: stack.valohai.url, token: vh.admin.token }, ctx(bb.admin.accountId)));
      ok(await backend.resolvers.saveBitbucketToken({ email: bb.admin.email, token: bb.admin.token }, ctx(bb.admin.accountId)));
      // Where the admin stored them: the workspace page, which lists the repositories (and keeps the list).
      ok(await backend.resolvers.getWorkspaceSettings({}, ctx(bb.admin.accountId)));
      for (let i = 0; i < CONNECTIONS; i++) {
        const { jobId } = ok(
          await backend.resolvers.startConnect({ projectId: projectId(i), ref: 'main', keyType: 'ed25519', submodules: true }, ctx(bb.admin.accountId, superproject(i))),
        );
        await platform.idle();
        const job = ok(await backend.resolvers.getJob({ jobId }, ctx(bb.admin.accountId, superproject(i))));
        assert.equal(job.status, 'done', `connect ${superproject(i)}: ${JSON.stringify(job).slice(0, 400)}`);
        await tick(SETUP_SPACING_MINUTES);
        if (i % 10 === 9) progress(`${i + 1} connections made`);
      }
    });
    const setupMinutes = CONNECTIONS * SETUP_SPACING_MINUTES;
    // An hour and a minute later the set-up has left every rolling hour; the busy hour starts on the hour.
    nowMs = Math.ceil((nowMs + HOUR + MINUTE) / HOUR) * HOUR;
    const start = nowMs;
    const fromLog = stack.bitbucket.requests.length;
    for (const counts of [byPath, appByPath]) for (const k of Object.keys(counts)) delete counts[k];
    const minuteOf = (ms: number) => Math.round((ms - start) / MINUTE);

    const ledger = new KvTokenHourStore(platform.store, platform.clock, tokenAccount({ email: bb.admin.email }));
    let ledgerMax = 0;
    let ledgerUnattendedMax = 0;
    const seen = new Set<QueueMessage>();
    const waits = new Map<string, Waited>();
    const noteWaits = () => {
      for (const d of platform.delayedMessages) {
        if (seen.has(d.message)) continue;
        seen.add(d.message);
        const what = pathOfMessage(d.message) ?? d.message.type;
        const w = waits.get(what) ?? { what, count: 0, firstAt: minuteOf(nowMs), lastDue: 0 };
        w.count += 1;
        w.lastDue = Math.max(w.lastDue, minuteOf(d.dueAt.getTime()));
        waits.set(what, w);
      }
    };
    const automaticWaitsUntil = new Set<string>();
    const pageFailures: string[] = [];
    const pageLoads: Record<string, number> = {};
    /** Workspace pages that showed a kept repository list because a read of it failed, and the last one's words. */
    const keptLists = { shown: 0, problem: '' };
    const page = async <R extends { ok: boolean; error?: { message: string } }>(who: string, what: string, load: () => Promise<R>): Promise<R> => {
      pageLoads[who] = (pageLoads[who] ?? 0) + 1;
      const reply = await path.run('pages', load);
      if (!reply.ok) {
        const failure = `${who}'s ${what} at minute ${minuteOf(nowMs)}: ${reply.error?.message ?? ''}`;
        pageFailures.push(failure);
        progress(`page failed: ${failure}`);
      }
      return reply;
    };
    const pushed: { i: number; sha: string }[] = [];
    let gitmodulesPushes = 0;
    let auditStarted: number | null = null;
    let batchStarted: number | null = null;
    /** Starts the audit or the bulk rotate as the admin clicks it; refused (a rate limit), the admin tries again the next minute. */
    const refusedStarts: string[] = [];
    const clickStart = async (what: 'audit' | 'bulk rotate', minute: number, click: () => Promise<{ ok: boolean; error?: { code: string; message: string } }>) => {
      const reply = await path.run(what, click);
      if (reply.ok) {
        if (what === 'audit') auditStarted = minute;
        else batchStarted = minute;
        return;
      }
      refusedStarts.push(`${what} at minute ${minute}: ${reply.error?.message ?? ''}`);
      progress(`${what} refused at minute ${minute}, tried again the next minute: ${reply.error?.message ?? ''}`);
      if (reply.error?.code !== 'rate-limited' && reply.error?.code !== 'bitbucket-error') throw new Error(`${what}: ${reply.error?.message ?? ''}`);
    };
    let auditFinished: number | null = null;
    let batchFinished: number | null = null;
    const rotated = Array.from({ length: ROTATED }, (_, k) => `acme/${superproject((k * 7) % CONNECTIONS)}`);

    const step = async (minute: number, busy: boolean) => {
      if (minute % 10 === 0) progress(`minute ${minute}`);
      if (minute % 60 === 0) {
        await path.run('scheduled checks', () => backend.onSchedule());
        await platform.idle();
      }
      if (minute >= 2 && auditStarted === null) await clickStart('audit', minute, () => backend.resolvers.startAudit({}, ctx(bb.admin.accountId)));
      if (minute >= 5 && batchStarted === null) await clickStart('bulk rotate', minute, () => backend.resolvers.startBatch({ action: 'rotate', repositories: rotated }, ctx(bb.admin.accountId)));
      if (busy) {
        // Each connection is pushed to every 60/10 minutes, staggered; one push in ten changes `.gitmodules`.
        const every = 60 / PUSHES_PER_HOUR;
        for (let i = 0; i < CONNECTIONS; i++) {
          if ((minute + i) % every !== 0) continue;
          const nth = Math.floor(minute / every);
          const changes = nth % GITMODULES_EVERY === i % GITMODULES_EVERY;
          const files: Record<string, string> = { 'train.py': `EPOCHS = ${minute}\n` };
          if (changes) {
            files['.gitmodules'] = gitmodulesFor(i, true);
            gitmodulesPushes += 1;
          }
          const sha = await stack.bitbucket.state.pushCommit('acme', superproject(i), { branch: 'main', message: `Minute ${minute}`, files });
          pushed.push({ i, sha });
          await path.run('push handling', () => backend.onPush({ repository: { uuid: repoUuid(superproject(i)) }, workspace: { uuid: ws.uuid }, push: { ref: 'main' } }));
        }
        for (const [name, who, k] of [
          [bb.admin.nickname, bb.admin.accountId, minute % CONNECTIONS],
          [admin2.nickname, admin2.accountId, (minute + 25) % CONNECTIONS],
        ] as const) {
          await page(name, 'repository page', () => backend.resolvers.getRepositoryPage({}, ctx(who, superproject(k))));
          const reply = await page(name, 'workspace page', () => backend.resolvers.getWorkspaceSettings({}, ctx(who)));
          const hour = reply.ok ? reply.value.bitbucket.hour : undefined;
          if (hour?.automaticWorkWaitsUntil) automaticWaitsUntil.add(hour.automaticWorkWaitsUntil);
          if (reply.ok && reply.value.repositoriesProblem) {
            keptLists.shown += 1;
            keptLists.problem = `${reply.value.repositoriesProblem.message} (listed at minute ${minuteOf(Date.parse(reply.value.repositoriesListedAt ?? ''))})`;
          }
        }
      }
      await platform.idle();
      noteWaits();
      const spent = spentInHour((await ledger.read()) ?? emptyHour(), clock());
      ledgerMax = Math.max(ledgerMax, spent.total);
      ledgerUnattendedMax = Math.max(ledgerUnattendedMax, spent.unattended);
      // Read from the app's storage: the bench's own looking sends no request to count.
      const ended = (state: { status: string } | undefined) => state !== undefined && state.status !== 'running' && state.status !== 'waiting';
      if (auditFinished === null && ended(await platform.store.get<{ status: string }>(keys.fleetAudit(wsBare)))) auditFinished = minute;
      if (batchFinished === null && ended(await platform.store.get<{ status: string }>(keys.fleetBatch(wsBare)))) batchFinished = minute;
    };

    let minute = 0;
    for (; minute < 60; minute++) {
      await step(minute, true);
      await tick();
    }
    // The busy hour is over: the clock goes on until nothing waits and the audit and bulk rotate have ended.
    let lastWorkMinute = 59;
    for (; minute < 60 + DRAIN_LIMIT_MINUTES; minute++) {
      const before = stack.bitbucket.requests.length;
      await step(minute, false);
      if (stack.bitbucket.requests.length > before) lastWorkMinute = minute;
      const checksDone = minute % 60 === 0 ? await checksRan() : -1;
      if (platform.delayedMessages.length === 0 && auditFinished !== null && batchFinished !== null && (checksDone === CONNECTIONS || minute > 60 + 24 * 60)) break;
      // The waiting work runs as the clock moves on: what it sends belongs to the next minute.
      const beforeTick = stack.bitbucket.requests.length;
      await tick();
      if (stack.bitbucket.requests.length > beforeTick) lastWorkMinute = minute + 1;
    }

    async function checksRan(): Promise<number> {
      let ran = 0;
      for (let i = 0; i < CONNECTIONS; i++) {
        const record = await platform.store.get<HealthRecord>(keys.health(wsBare, repoUuid(superproject(i))));
        if ((record?.entries ?? []).some((h) => h.trigger === 'schedule' && Date.parse(h.at) >= start)) ran += 1;
      }
      return ran;
    }

    const log = stack.bitbucket.requests.slice(fromLog);
    const tokenId = credentialIdOf({ email: bb.admin.email, token: bb.admin.token });
    const userIds = new Set([tokenId, credentialIdOf({ email: bb.adminWithoutWriteSshKey.email, token: bb.adminWithoutWriteSshKey.token })]);
    const limited = (e: (typeof log)[number]) => e.path.startsWith('/2.0/repositories');
    const tokenLog = log.filter((e) => e.credential === tokenId);
    const appLog = log.filter((e) => e.credential === credentialIdOf({ bearer: appToken }));
    const audit = ok(await backend.resolvers.getAudit({ pageSize: 0 }, ctx(bb.admin.accountId))).audit;
    const batch = ok(await backend.resolvers.getBatch({ pageSize: 0 }, ctx(bb.admin.accountId))).batch;
    const fetched = new Map(Array.from({ length: CONNECTIONS }, (_, i) => [i, new Set(stack.valohai.state.commits(projectId(i)).map((c) => c.identifier))]));
    return {
      limit,
      size,
      byPath,
      token: Object.values(byPath).reduce((a, b) => a + b, 0),
      tokenAnswered: tokenLog.length,
      token429: tokenLog.filter((e) => e.status === 429).length,
      tokenMaxHour: maxRollingHour(tokenLog.filter(limited).map((e) => e.at.getTime())),
      userMaxHour: maxRollingHour(log.filter((e) => e.credential !== undefined && userIds.has(e.credential) && limited(e)).map((e) => e.at.getTime())),
      appByPath,
      appRequests: appLog.length,
      app429: appLog.filter((e) => e.status === 429).length,
      appMaxHour: maxRollingHour(appLog.filter(limited).map((e) => e.at.getTime())),
      personRequests: log.filter((e) => e.credential !== undefined && e.credential !== tokenId && e.credential !== credentialIdOf({ bearer: appToken })).length,
      ledgerMax,
      ledgerUnattendedMax,
      waits: [...waits.values()],
      automaticWaitsUntil: [...automaticWaitsUntil].map((at) => `minute ${minuteOf(Date.parse(at))}`),
      pageLoads,
      pageFailures,
      keptLists,
      pushes: pushed.length,
      pushesFetched: pushed.filter(({ i, sha }) => fetched.get(i)?.has(sha)).length,
      gitmodulesPushes,
      checksRan: await checksRan(),
      refusedStarts,
      audit: { status: audit?.status ?? 'none', read: audit?.repositoriesRead ?? 0, total: audit?.repositoriesTotal ?? null, startedMinute: auditStarted, finishedMinute: auditFinished, token: audit?.requests.token ?? 0 },
      batch: { status: batch?.status ?? 'none', done: batch?.counts.done ?? 0, failed: (batch?.failed ?? []).map((f) => `${f.repository}: ${f.error}`), startedMinute: batchStarted, finishedMinute: batchFinished, token: batch?.requests.token ?? 0 },
      errors: platform.log.lines.filter((l) => l.level === 'error').map((l) => `${l.message} ${JSON.stringify(l.fields)}`),
      lastWorkMinute,
      simulatedMinutes: minute + 1,
      wallMs: Number(process.hrtime.bigint() - wall0) / 1e6,
      setupMinutes,
    };
  } finally {
    await stack.close();
  }
}

const PATHS: Path[] = ['pages', 'push handling', 'scheduled checks', 'audit', 'bulk rotate', 'other'];

function rowsOf(run: BusyRun): BenchRow[] {
  const at = `limit ${run.limit}/h`;
  return [
    ...PATHS.map((p) => ({ name: `${at}: ${p}`, runs: 0, medianMs: 0, p95Ms: 0, extra: { 'token requests': run.byPath[p] ?? 0, 'as app': run.appByPath[p] ?? 0 } })),
    {
      name: `${at}: total`,
      runs: 0,
      medianMs: 0,
      p95Ms: 0,
      extra: {
        'token requests': run.token,
        'as app': run.appRequests,
        'in Bitbucket\'s log': run.tokenAnswered,
        '429 answers': run.token429,
        'busiest rolling hour': run.tokenMaxHour,
        'same user, all credentials': run.userMaxHour,
        'ledger max': run.ledgerMax,
        'app 429s': run.app429,
        'app busiest hour': run.appMaxHour,
        'as the admins': run.personRequests,
      },
    },
  ];
}

const loads = (run: BusyRun) =>
  Object.entries(run.pageLoads)
    .map(([who, n]) => `${who} ${n}`)
    .join(', ');

function notesOf(run: BusyRun): string[] {
  const waited = run.waits.length
    ? run.waits.map((w) => `${w.what}: ${w.count} delayed message${w.count === 1 ? '' : 's'} from minute ${w.firstAt}, the last due at minute ${w.lastDue}`).join('; ')
    : 'nothing waited';
  return [
    `Limit ${run.limit} an hour: ${run.token} stored-token requests (Bitbucket's log: ${run.tokenAnswered}), busiest rolling hour ${run.tokenMaxHour} (target <= 1,000: ${run.tokenMaxHour <= 1000 ? 'met' : 'not met'}), ` +
      `${run.token429} answered 429 (${run.limit >= 1000 ? `target 0: ${run.token429 === 0 ? 'met' : 'not met'}` : 'the app learns the lower limit only from them'}); ` +
      `the ledger's busiest hour ${run.ledgerMax} (${run.ledgerUnattendedMax} unattended). The token user's busiest hour with the admin's own page requests added: ${run.userMaxHour}. ` +
      `As the app: ${run.appRequests} requests, busiest rolling hour ${run.appMaxHour}, ${run.app429} answered 429.`,
    `Waited (delayed queue messages): ${waited}. Automatic work held after a 429 until: ${run.automaticWaitsUntil.length ? run.automaticWaitsUntil.join(', ') : 'never'}.`,
    `Finished: pushes fetched ${run.pushesFetched} of ${run.pushes} (${run.gitmodulesPushes} changed .gitmodules); scheduled checks ran for ${run.checksRan} of ${run.size.connections} connections; ` +
      `audit ${run.audit.status}, ${run.audit.read} of ${run.audit.total ?? '?'} repositories read, started at minute ${run.audit.startedMinute ?? 'never'}, ended at minute ${run.audit.finishedMinute ?? 'never'} (${run.audit.token} token requests); ` +
      `bulk rotate ${run.batch.status}, ${run.batch.done} of ${run.size.rotated} done${run.batch.failed.length ? `, failed: ${run.batch.failed.slice(0, 3).join('; ')}` : ', none failed'}, started at minute ${run.batch.startedMinute ?? 'never'}, ended at minute ${run.batch.finishedMinute ?? 'never'} (${run.batch.token} token requests); ` +
      `${run.refusedStarts.length ? `starting them was refused ${run.refusedStarts.length} time${run.refusedStarts.length === 1 ? '' : 's'} (the admin tried again the next minute; first: ${run.refusedStarts[0]}); ` : ''}` +
      `errors logged: ${run.errors.length ? run.errors.slice(0, 3).join('; ') : 'none'}. Last Bitbucket request at minute ${run.lastWorkMinute}.`,
    `Pages: loads by admin ${loads(run)}, ${run.pageFailures.length ? `${run.pageFailures.length} failed: ${run.pageFailures.slice(0, 3).join('; ')}` : 'every one rendered'}; ` +
      `the workspace page showed its kept repository list after a failed read ${run.keptLists.shown} time${run.keptLists.shown === 1 ? '' : 's'}${run.keptLists.problem ? ` (the last: ${run.keptLists.problem})` : ''}.`,
    `Run: ${run.simulatedMinutes} simulated minutes in 1-minute steps after a ${run.setupMinutes}-minute set-up (not counted), ${(run.wallMs / 1000).toFixed(0)} s wall time.`,
  ];
}

/**
 * Both runs at issue 25's size (`npm run bench -- busy`), or at SCALED_SIZE with `--scaled` (a quick look,
 * recorded under its own title). Every page load of either admin must render in both runs.
 */
export async function benchBusy(flags: string[] = []): Promise<BenchSection> {
  const scaled = flags.includes('--scaled');
  const size = scaled ? SCALED_SIZE : FULL_SIZE;
  // Each run's figures on stderr as soon as it ends: the log keeps them whatever the next run does.
  const logged = (run: BusyRun) => (process.stderr.write(`${notesOf(run).join('\n')}\n${JSON.stringify({ byPath: run.byPath, appByPath: run.appByPath })}\n`), run);
  const full = logged(await busyRun(1000, size));
  const tight = logged(await busyRun(300, size));
  const section: BenchSection = {
    title: `Busy workspace: an hour of work on the stored token${scaled ? ` (scaled: ${size.connections} connections)` : ''}`,
    rows: [...rowsOf(full), ...rowsOf(tight)],
    notes: [
      `${size.connections} connections of 2 targets (superproject + 1 submodule repository), ${PUSHES_PER_HOUR} pushes an hour each (one in ${GITMODULES_EVERY} changes .gitmodules), ` +
        `the hourly trigger's checks, 2 admins each loading a repository page and the workspace page every minute, an audit of ${REPOSITORIES} repositories (minute 2) and a bulk rotate of ${size.rotated} (minute 5). ` +
        "Minutes are simulated: the work of each minute runs to its end before the clock moves on. Minute 0 is the busy hour's start. " +
        "Each admin's page loads go as that admin (asUser) and as the app; the app's credential has an hour of its own at the emulator's limit.",
      ...notesOf(full),
      ...notesOf(tight),
    ],
  };
  for (const run of [full, tight]) {
    assert.deepEqual(run.pageFailures, [], `at ${run.limit} an hour every page load of both admins renders`);
  }
  return section;
}
