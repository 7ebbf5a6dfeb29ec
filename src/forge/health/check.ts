/**
 * One connection's check, run by nobody in particular (the schedule, a push, Verify). It runs the
 * engine's check with the workspace's policy, acting for the account that made the connection, and
 * keeps what it found: a history entry, the repositories that need an admin, and the keys a person
 * should know about (unused, no longer needed, or labelled like the app's by someone else).
 *
 * What is trusted for what: `.gitmodules` only chooses which repositories to look at; a key is the
 * connection's only when its public key is recorded; a label proves nothing, so a lookalike key is
 * reported and never touched.
 *
 * Nobody is present to answer for a check, so it restores and never extends: the key goes back only on
 * repositories the connection records (chosen and authorised when a person connected or rotated), and
 * only while the account that made it may still connect here and administers each of them. A repository
 * `.gitmodules` names since (whoever pushed it) gets no key and not even a key listing: it is shown as
 * a new submodule that needs an admin, and a person's own Rotate adds it.
 */
import { randomUUID } from 'node:crypto';
import {
  check,
  explainFetchError,
  fetchesElsewhere,
  messageOf,
  type BitbucketApi,
  type CheckResult,
  type Finding,
  type KeyListing,
  type TargetVerdict,
} from '../../connect/index';
import { AutomaticWork } from './automatic-work';
import { TAKE_OVER } from '../access/connector-lapse';
import {
  accessKeysUrl,
  type HealthChange,
  type HealthEntry,
  type HealthFinding,
  type HealthFindingCode,
  type HealthPolicyView,
  type HealthTrigger,
  type KeyNotice,
  type NeedsAdminEntry as HealthRecordNeedsAdmin,
} from '../contract';
import { bitbucketTokenRefused, cleanText, errorName, valohaiTokenRefused } from '../errors';
import { automationPause, loadHealth, loadPolicy, recordHealth, tokenExpiryFindings } from '../store/health-records';
import { activeJob } from '../jobs/slots';
import { noticeFinding, readKeyNotices, split } from './key-notices';
import { keyAgeOf } from '../store/connections';
import { bareUuid, keys } from '../store/keys';
import type { RequestCounts } from '../jobs/context';
import { BitbucketRateLimitError, TokenHourSpentError } from '../../bitbucket/index';
import { keysSeenInListings } from '../store/keys-seen';
import { LockBusyError } from '../store/lock';
import type { ForgePlatform } from '../platform/ports';
import type { LastFetch, StoredConnection } from '../store/records';

export interface HealthCheckOptions {
  trigger: HealthTrigger;
  now?: Date;
  /** Stored-token requests the check may make at most (push handling's share); unlimited when absent. */
  tokenLimit?: number;
  /** Filled with the requests the check made, whatever its end. */
  spent?: RequestCounts;
  /**
   * Whose the repository's lock is while the check repairs: the queue event's own name, so that the
   * event's redelivery after a run that died takes the lock back; a fresh name when absent.
   */
  lockHolder?: string;
}

/** Discovery that stopped short: a recorded repository it did not reach may still be needed. */
const INCOMPLETE_DISCOVERY = new Set(['gitmodules-unreadable', 'submodule-cap', 'submodule-depth']);

type NeedsAdmin = HealthRecordNeedsAdmin;

const lower = (name: string) => name.toLowerCase();

/** One connection's check; undefined when the repository has no connected connection. Never throws for a remote failure: it records it. */
export async function runHealthCheck(platform: ForgePlatform, workspaceUuid: string, repositoryUuid: string, opts: HealthCheckOptions): Promise<HealthEntry | undefined> {
  const ws = bareUuid(workspaceUuid, 'workspace');
  const repo = bareUuid(repositoryUuid, 'repository');
  const { store } = platform;
  const now = opts.now ?? platform.clock.now();
  const connection = await store.get<StoredConnection>(keys.connection(ws, repo));
  if (!connection || connection.state !== 'connected') return undefined;

  const work = new AutomaticWork(platform, connection, opts.lockHolder ?? `check:${randomUUID()}`);
  work.tokenLimit = opts.tokenLimit;
  try {
    return await checkWith(work, ws, repo, now, opts);
  } finally {
    await work.flushMeter();
    if (opts.spent) Object.assign(opts.spent, work.counts);
  }
}

async function checkWith(work: AutomaticWork, ws: string, repo: string, now: Date, opts: HealthCheckOptions): Promise<HealthEntry | undefined> {
  const { platform, connection } = work;
  const { store } = platform;
  const summary = await work.credentials.summary();
  const keyAgeDays = keyAgeOf(connection, now);
  const paused = automationPause(summary, now);
  if (paused) return recordPaused(platform, ws, repo, opts.trigger, now, keyAgeDays, paused);
  // The job on the repository (connect, rotate, verify, disconnect) settles it; the next check looks again.
  if (await activeJob(store, ws, repo, now)) return undefined;
  if (!(await work.credentials.valohai())) {
    return recordPaused(platform, ws, repo, opts.trigger, now, keyAgeDays, {
      reason: 'No Valohai token is stored for this workspace, so Valohai cannot be asked to fetch.',
      fix: "Store a Valohai token on the workspace's Valohai settings page; checks resume by themselves.",
    });
  }

  const policy = await loadPolicy(store, ws);
  const previous = await loadHealth(store, ws, repo);
  let entry: HealthEntry;
  let found: { keyNotices?: KeyNotice[]; needsAdmin?: NeedsAdmin[] } = {};
  try {
    const bitbucket = await work.bitbucket();
    if (bitbucket) {
      const outcome = await fullCheck(work, bitbucket, { policy, now, trigger: opts.trigger, previousNotices: previous.keyNotices });
      if (!outcome) return undefined;
      ({ entry, found } = outcome);
    } else {
      entry = await valohaiOnlyCheck(work, { now, trigger: opts.trigger });
    }
  } catch (err) {
    // Another run holds the repository, or the share given to this check ran out: the next check looks again.
    // So does a check for which the token's hour (its unattended share, or a 429's wait) has no room now,
    // or that Bitbucket answered 429 (the token's hour or the app's): a rate limit says nothing of the connection.
    if (err instanceof LockBusyError || err instanceof BitbucketRateLimitError || err instanceof TokenHourSpentError) return undefined;
    await work.settleCredentials(undefined);
    const refused = work.refused;
    if (refused.bitbucket || refused.valohai) {
      const problem = refused.bitbucket ? bitbucketTokenRefused() : valohaiTokenRefused();
      const pause = automationPause(await work.credentials.summary(), now) ?? { reason: problem.message, fix: problem.fix };
      return recordPaused(platform, ws, repo, opts.trigger, now, keyAgeDays, pause, work);
    }
    platform.log.warn('health check failed', { error: errorName(err) });
    entry = {
      at: now.toISOString(),
      trigger: opts.trigger,
      health: 'broken',
      keyAgeDays,
      head: null,
      headSeen: null,
      findings: [
        {
          severity: 'broken',
          code: errorName(err) === 'BitbucketRateLimitError' ? 'rate-limited' : 'other',
          message: `The check could not finish: ${cleanText(messageOf(err), work.secrets)}`,
          fix: 'The next check tries again; if this stays, run Verify on the repository page to see the step that fails.',
        },
      ],
      changes: [],
      requests: { ...work.counts },
    };
  }
  await work.settleCredentials(undefined);
  if (work.refused.bitbucket || work.refused.valohai) {
    // A token refused on the way: what the check saw may be that refusal, not the connection.
    const pause = automationPause(await work.credentials.summary(), now);
    if (pause) return recordPaused(platform, ws, repo, opts.trigger, now, keyAgeDays, pause, work);
  }
  entry.findings.push(...tokenExpiryFindings(summary, now));
  if (entry.health === 'healthy' && entry.findings.length) entry.health = 'degraded';
  entry = scrubEntry(entry, work.secrets);
  // Labels are whatever someone typed on Bitbucket, reasons may quote a server: cleaned like every other text.
  const clean = (text: string) => cleanText(text, work.secrets);
  if (found.keyNotices) found = { ...found, keyNotices: found.keyNotices.map((n) => ({ ...n, label: clean(n.label) })) };
  if (found.needsAdmin) found = { ...found, needsAdmin: found.needsAdmin.map((n) => ({ ...n, reason: clean(n.reason) })) };
  await recordHealth(store, ws, repo, entry, found);
  platform.log.info('health check', {
    trigger: opts.trigger,
    health: entry.health,
    bitbucketToken: work.counts.bitbucketToken,
    bitbucketApp: work.counts.bitbucketApp,
    valohai: work.counts.valohai,
  });
  return entry;
}

/** A check that asked nothing because automatic work is paused: recorded as paused, with the reason and the fix. */
export async function recordPaused(
  platform: ForgePlatform,
  ws: string,
  repo: string,
  trigger: HealthTrigger,
  now: Date,
  keyAgeDays: number | null,
  pause: { reason: string; fix: string },
  work?: AutomaticWork,
): Promise<HealthEntry> {
  const entry: HealthEntry = {
    at: now.toISOString(),
    trigger,
    health: 'paused',
    keyAgeDays,
    head: null,
    headSeen: null,
    findings: [{ severity: 'degraded', code: 'token-refused', message: pause.reason, fix: pause.fix }],
    changes: [],
    ...(work ? { requests: { ...work.counts } } : {}),
  };
  const clean = scrubEntry(entry, work?.secrets ?? []);
  await recordHealth(platform.store, ws, repo, clean);
  return clean;
}

function scrubEntry(entry: HealthEntry, secrets: readonly string[]): HealthEntry {
  const clean = (text: string) => cleanText(text, secrets);
  return {
    ...entry,
    findings: entry.findings.map((f) => ({ ...f, message: clean(f.message), ...(f.fix !== undefined ? { fix: clean(f.fix) } : {}) })),
    changes: entry.changes.map((c) => ({ ...c, ...(c.detail !== undefined ? { detail: clean(c.detail) } : {}) })),
  };
}

const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** Why the recorded account may not add the key to a repository, in the page's words. */
function needsAdminReason(verdict: TargetVerdict): string {
  if (verdict.reason === 'not-admin' && verdict.message === 'you do not administer it. Ask its admin.') {
    return 'The account that made this connection does not administer it, so the key is not added automatically. An admin of it must add the key.';
  }
  const message = (verdict.message ?? 'not allowed.').replace(/^you /, 'the account that made this connection ').replace(/ you /g, ' that account ');
  return message.charAt(0).toUpperCase() + message.slice(1);
}

const DIRECT: ReadonlySet<string> = new Set<HealthFindingCode>([
  'key-missing',
  'keys-unreadable',
  'repair-failed',
  'project-moved',
  'fetch-failed',
  'head-not-fetched',
  'key-age-warning',
  'key-age-alert',
  'rate-limited',
]);

function fixFor(code: HealthFindingCode, repository: string | undefined, policy: HealthPolicyView): string | undefined {
  const where = repository ? split(repository) : undefined;
  switch (code) {
    case 'key-missing':
      return policy.drift === 'alert'
        ? `Add the connection's key back on ${where ? accessKeysUrl(where.workspace, where.slug) : "the repository's access keys page"}, rotate the connection, or set drift handling to repair on the workspace's Valohai settings page.`
        : 'Rotate the connection to put its key on every repository again.';
    case 'repair-failed':
      return 'The next check tries again; rotate the connection if it keeps failing.';
    case 'keys-unreadable':
      return "Check that the stored Bitbucket API token still has the scopes the workspace's Valohai settings page lists.";
    case 'project-moved':
      return 'Disconnect this repository, or point the Valohai project back at it.';
    case 'fetch-failed':
      return "Fix what Valohai's error names, then verify the connection again (Verify now).";
    case 'head-not-fetched':
      return "Check the project's fetch reference in Valohai's repository settings.";
    case 'key-age-warning':
    case 'key-age-alert':
      return 'Rotate the connection to give it a new key (Rotate, beside Verify now).';
    case 'rate-limited':
      return 'Nothing to do: the next check tries again once Bitbucket allows it.';
    default:
      return undefined;
  }
}

/** The engine's findings as the pages show them; keys are said by the notices, not twice. */
function mapFindings(findings: Finding[], policy: HealthPolicyView, needsAdmin: NeedsAdmin[]): HealthFinding[] {
  const out: HealthFinding[] = [];
  for (const f of findings) {
    if (f.code === 'orphan-key' || f.code === 'lookalike-key' || f.code === 'needs-admin' || f.code === 'new-target') continue;
    const code: HealthFindingCode = DIRECT.has(f.code) ? (f.code as HealthFindingCode) : f.code === 'not-connected' ? 'key-missing' : 'other';
    const fix = fixFor(code, f.repository, policy) ?? (code === 'other' && f.severity === 'broken' ? 'Verify the connection now for the details.' : undefined);
    out.push({ severity: f.severity, code, ...(f.repository ? { repository: f.repository } : {}), message: f.message, ...(fix ? { fix } : {}) });
  }
  for (const n of needsAdmin) {
    const { workspace, slug } = split(n.repository);
    out.push({
      severity: 'broken',
      code: 'needs-admin',
      repository: n.repository,
      message: `${n.repository} lacks the connection's key, so Valohai cannot fetch it. ${n.reason}`,
      fix: n.newSubmodule
        ? `An admin of ${n.repository} rotates the connection from this page, or removes the submodule.`
        : `An admin of ${n.repository} adds the connection's public key at ${accessKeysUrl(workspace, slug)} (or rotates the connection from this page).`,
    });
  }
  return out;
}

interface FullCheckOptions {
  policy: HealthPolicyView;
  now: Date;
  trigger: HealthTrigger;
  previousNotices: KeyNotice[];
}

async function fullCheck(
  work: AutomaticWork,
  bitbucket: BitbucketApi,
  opts: FullCheckOptions,
): Promise<{ entry: HealthEntry; found: { keyNotices: KeyNotice[]; needsAdmin: NeedsAdmin[] } } | undefined> {
  const { connection } = work;
  const { policy, now } = opts;
  const before = connection.record;
  // Asked only where a repair may follow: a check that only reports acts for nobody.
  const lapse = policy.drift === 'repair' ? await work.lapse() : undefined;
  const deps = await work.deps(bitbucket, lapse);
  const result: CheckResult = await check(deps, {
    workspace: work.workspace,
    repo: work.repo,
    project: before.projectId,
    ref: before.ref,
    submodules: connection.submodules,
    repair: policy.drift === 'repair' && !lapse,
  });
  if (work.refused.bitbucket || work.refused.valohai) throw new Error('A stored token was refused during the check.');

  const at = now.toISOString();
  // A check only restores: every key it put on a repository went back where the connection recorded it.
  const changes: HealthChange[] = result.repaired.map((r) => ({ kind: 'key-restored', repository: r.repository, at, detail: `key ${r.keyId}, missing from the repository, put back` }));
  const needsAdmin: NeedsAdmin[] = [
    ...result.verdicts.filter((v) => !v.allowed).map((v) => ({ repository: v.repository, reason: lapse ? `${capital(lapse)} ${TAKE_OVER}` : needsAdminReason(v) })),
    ...result.findings
      .filter((f) => f.code === 'new-target' && f.repository)
      .map((f) => ({
        repository: f.repository as string,
        reason: 'New submodule: it is new in .gitmodules since a person last connected or rotated, and work nobody started gives the key to no new repository. Rotating the connection from this page checks that you administer it, and adds the key.',
        newSubmodule: true,
      })),
  ];

  // After repairs, the engine may have recorded new targets: read the connection as it is now.
  const fresh = (await work.connections.load()) ?? connection;
  // Each repository's key listing: the check's, then those of repositories it no longer reached.
  const listed = new Map(result.listings.map((l) => [lower(l.repository), l]));
  const discovered = new Set(listed.keys());
  const incomplete = result.findings.some((f) => INCOMPLETE_DISCOVERY.has(f.code));
  // Repositories the connection recorded (or a check listed as unneeded) that Valohai no longer fetches.
  const gone = incomplete
    ? []
    : [
        ...new Map(
          [...fresh.record.targets.map((t) => t.repository), ...opts.previousNotices.filter((n) => n.kind === 'unneeded').map((n) => n.repository)]
            .filter((name) => !discovered.has(lower(name)))
            .map((name) => [lower(name), name]),
        ).values(),
      ];
  for (const name of gone) {
    const { workspace, slug } = split(name);
    const listing: KeyListing = await bitbucket.listAccessKeys(workspace, slug).then(
      (found) => ({ repository: `${workspace}/${slug}`, keys: found }),
      (error: unknown) => ({ repository: `${workspace}/${slug}`, error }),
    );
    listed.set(lower(listing.repository), listing);
  }
  // A repository that was deleted takes its keys with it: it leaves the record. One that still exists
  // but is no longer fetched keeps its place in the record (so that disconnect still removes the key
  // there) and is marked unneeded, which is what makes its key removable; one that could not be read
  // stays as it was.
  const deleted = new Set(gone.filter((name) => (listed.get(lower(name))?.error as { status?: unknown } | undefined)?.status === 404).map(lower));
  const unneeded = new Set(gone.filter((name) => listed.get(lower(name))?.keys !== undefined).map(lower));
  const pruned: StoredConnection = {
    ...fresh,
    record: { ...fresh.record, targets: fresh.record.targets.filter((t) => !deleted.has(lower(t.repository))) },
    unneededTargets: gone.filter((name) => unneeded.has(lower(name))),
  };

  const read = await readKeyNotices(work, bitbucket, listed.values(), pruned, {
    policy,
    now,
    fetchedCleanly: result.fetch !== undefined && result.fetch.errors.length === 0,
  });
  const { notices, removedFrom } = read;
  changes.push(...read.changes);

  const findings = mapFindings(result.findings, policy, needsAdmin);
  if (lapse) findings.push({ severity: 'degraded', code: 'connector-lapsed', message: `Automatic repairs and rotations have stopped: ${lapse}`, fix: TAKE_OVER });
  for (const n of notices) findings.push(noticeFinding(n, policy));

  const lastFetch: LastFetch | undefined = result.fetch
    ? {
        at,
        ok: result.fetch.errors.length === 0 && result.fetch.headSeen,
        head: result.headCommit,
        fetched: result.fetch.headSeen ? result.headCommit : null,
        errors: result.fetch.errors,
      }
    : undefined;
  const latest = (await work.connections.load()) ?? pruned;
  // Where the check removed the connection's own key, nothing of the connection is left to remove.
  const leaves = (name: string) => deleted.has(lower(name)) || removedFrom.has(lower(name));
  const keptRecord = { ...latest.record, targets: latest.record.targets.filter((t) => !leaves(t.repository)) };
  const seen = keysSeenInListings(now, keptRecord, listed.values(), new Set(result.repaired.map((r) => lower(r.repository))));
  await work.connections.save({
    ...latest,
    record: keptRecord,
    ...(seen ? { keysSeen: seen } : {}),
    unneededTargets: (pruned.unneededTargets ?? []).filter((name) => !leaves(name)),
    ...(lastFetch
      ? {
          lastFetch,
          ...(lastFetch.ok ? { verifiedAt: at } : {}),
          ...(opts.trigger === 'push' && result.fetch ? { lastPushFetch: { at, commits: result.fetch.newCommits.length, errors: result.fetch.errors } } : {}),
        }
      : {}),
  });

  const broken = findings.some((f) => f.severity === 'broken');
  const entry: HealthEntry = {
    at,
    trigger: opts.trigger,
    health: broken ? 'broken' : findings.length ? 'degraded' : 'healthy',
    keyAgeDays: result.keyAgeDays,
    head: result.headCommit,
    headSeen: result.fetch?.headSeen ?? null,
    findings,
    changes,
    requests: { ...work.counts },
  };
  return { entry, found: { keyNotices: notices, needsAdmin } };
}

/**
 * A connection without a usable API token: its keys cannot be listed, so only Valohai's side is
 * checked (the project, its fetch, and whether it sees Bitbucket's head, read as the app).
 */
async function valohaiOnlyCheck(work: AutomaticWork, opts: { now: Date; trigger: HealthTrigger }): Promise<HealthEntry> {
  const { connection } = work;
  const { record } = connection;
  const at = opts.now.toISOString();
  const valohai = await work.valohai();
  const findings: HealthFinding[] = [
    {
      severity: 'degraded',
      code: 'keys-unreadable',
      message: 'No Bitbucket API token is stored, so the access keys cannot be listed: only Valohai\'s fetch was checked.',
      fix: "Store a Bitbucket API token on the workspace's Valohai settings page to have keys checked and repaired.",
    },
  ];
  const project = await valohai.findProject(record.projectId);
  const elsewhere = fetchesElsewhere(project.repository?.url, { fullName: record.repository });
  let head: string | null = null;
  let headSeen: boolean | null = null;
  if (elsewhere) {
    findings.push({
      severity: 'broken',
      code: 'project-moved',
      message: `Valohai project ${project.name} now fetches ${elsewhere}, not ${record.repository}.`,
      fix: 'Disconnect this repository, or point the Valohai project back at it.',
    });
  } else {
    head = await work.app.getBranchHead(work.workspace, work.repo, record.ref);
    const fetched = await valohai.fetchRepository(record.projectId);
    const errors = fetched.errors.map((e) => explainFetchError(e, { ref: record.ref, sshUrl: project.repository?.url ?? '' }));
    const commits = await valohai.listCommits(record.projectId, 100);
    headSeen = commits.some((c) => c.identifier === head);
    for (const e of errors) findings.push({ severity: 'broken', code: 'fetch-failed', message: `Valohai's fetch failed: ${e}`, fix: "Fix what Valohai's error names, then verify the connection again (Verify now)." });
    if (!headSeen && !errors.length) {
      findings.push({
        severity: 'broken',
        code: 'head-not-fetched',
        message: `Valohai fetched, but its commits do not include ${head}, the head of ${record.ref} on Bitbucket.`,
        fix: "Check the project's fetch reference in Valohai's repository settings.",
      });
    }
    const lastFetch: LastFetch = { at, ok: !errors.length && headSeen, head, fetched: headSeen ? head : null, errors };
    const latest = (await work.connections.load()) ?? connection;
    await work.connections.save({
      ...latest,
      lastFetch,
      ...(opts.trigger === 'push' ? { lastPushFetch: { at, commits: fetched.commits.length, errors } } : {}),
    });
  }
  const broken = findings.some((f) => f.severity === 'broken');
  return {
    at,
    trigger: opts.trigger,
    health: broken ? 'broken' : 'degraded',
    keyAgeDays: keyAgeOf(connection, opts.now),
    head,
    headSeen,
    findings,
    changes: [],
    requests: { ...work.counts },
  };
}
