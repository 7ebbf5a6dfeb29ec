/**
 * check: is a connection still working, and tidy? It reads what status reads, then asks Valohai to
 * fetch (the only way to learn that the key Valohai holds still opens every repository) and looks for
 * Bitbucket's head of the fetch reference among Valohai's commits. With `repair`, a repository the
 * connection records that lost its key (removed by hand) gets the same public key back, with the same
 * label, after the account acting is authorised for it; nothing else changes: no key is made, none
 * removed, Valohai's settings untouched.
 *
 * A check runs from cron jobs and the app's schedule, with nobody to answer for it, so it restores and
 * never extends: a repository `.gitmodules` names since a person connected or rotated is reported
 * (`new-target`, needing an admin), its keys not even read, and it gets no key. It honours the
 * connection's choices (submodules on or off, the fetch reference).
 *
 * Health: `broken` when Valohai cannot fetch what it must (a key missing, a failed fetch, the head not
 * seen, the project fetching elsewhere, no connection); `degraded` when it works but needs a look (key
 * age, old or unused keys, lookalikes, discovery caps); else `healthy`.
 */
import { explainFetchError, messageOf } from './explain';
import type { WorkflowDeps } from './ports';
import { readStatus, type KeyListing } from './status';
import { refusedTargets, type TargetVerdict } from './trust';
import type { Target, WarningCode } from './types';

export type Health = 'healthy' | 'degraded' | 'broken';

export type FindingCode =
  | 'not-connected'
  | 'key-missing'
  | 'keys-unreadable'
  | 'needs-admin'
  | 'repair-failed'
  | 'project-moved'
  | 'fetch-failed'
  | 'head-not-fetched'
  | WarningCode;

export interface Finding {
  severity: Exclude<Health, 'healthy'>;
  code: FindingCode;
  repository?: string;
  message: string;
}

export interface CheckResult {
  repository: string;
  ref: string;
  headCommit: string;
  projectId: string;
  projectName: string;
  health: Health;
  keyAgeDays: number | null;
  findings: Finding[];
  /** Repositories that got the connection's key back (`repair`). */
  repaired: { repository: string; keyId: number }[];
  /** A dry run's repair: the repositories that would get the connection's key back. */
  repairPlanned?: string[];
  /** Valohai's fetch: undefined when it was not asked (nothing to fetch with, or a project elsewhere). */
  fetch?: { newCommits: string[]; errors: string[]; headSeen: boolean };
  checkedAt: string;
  /**
   * What the check read on its way, for a caller that acts on it without asking twice: each repository's
   * key listing (none for one it left unread)...
   */
  listings: KeyListing[];
  /** ...and the authority's verdicts on the repositories a repair would put the key on, with how each was reached. */
  verdicts: (TargetVerdict & { via: string })[];
}

export interface CheckInput {
  workspace: string;
  repo: string;
  project: string;
  /** The branch Valohai fetches; default: the repository's main branch. A connection on another branch must name it. */
  ref?: string;
  /** Whether Valohai fetches submodules; default: the connection's recorded choice. */
  submodules?: boolean;
  repair?: boolean;
  /**
   * Change nothing: Valohai is not asked to fetch (its fetch is not known, so the health is what the keys
   * say), nothing is recorded, and with `repair` the keys that would be put back are named
   * (`repairPlanned`), not added.
   */
  dryRun?: boolean;
}

/** Warnings of status that are findings of their own here (said once, with the check's words). */
const MAPPED: ReadonlySet<WarningCode> = new Set(['not-fetched', 'project-moved', 'new-target']);

function targetOf(repository: string, via: string): Target {
  const [workspace = '', slug = ''] = repository.split('/');
  return { workspace, slug, key: repository.toLowerCase(), via };
}

export async function check(deps: WorkflowDeps, input: CheckInput): Promise<CheckResult> {
  const run = () => runCheck(deps, input);
  return input.repair && !input.dryRun && deps.lock ? deps.lock.withLock(`repo:${input.workspace}/${input.repo}`.toLowerCase(), run) : run();
}

async function runCheck(deps: WorkflowDeps, input: CheckInput): Promise<CheckResult> {
  // Valohai's commits are read once, after its fetch: a read before it would say nothing the check uses.
  const { status: st, listings } = await readStatus(deps, input, { commits: false, onlyRecorded: true });
  const verdicts: CheckResult['verdicts'] = [];
  const record = await deps.store?.get(st.repository, st.valohai.projectId);
  const findings: Finding[] = [];
  const repaired: CheckResult['repaired'] = [];
  const broken = (code: FindingCode, message: string, repository?: string) => findings.push({ severity: 'broken', code, message, ...(repository ? { repository } : {}) });

  const publicKey = record?.publicKey;
  if (!st.connected && !publicKey) {
    broken('not-connected', `${st.repository} holds no key of a connection to Valohai project ${st.valohai.projectName}, and none is recorded here: run connect.`);
  }

  const missing = st.repositories.filter((r) => !r.key && !r.error && !r.unrecorded);
  for (const w of st.warnings) if (w.code === 'new-target') broken('new-target', w.message, w.repository);
  const unreadable = st.repositories.filter((x) => x.error);
  if (unreadable.length > 1 && unreadable.length === st.repositories.length) {
    // One cause (a token that may not list keys, most often), said once.
    broken('keys-unreadable', `The access keys of none of the ${unreadable.length} repositories could be read, so whether Valohai can fetch them is not known. The first answer: ${unreadable[0]?.error}`);
  } else {
    for (const r of unreadable) {
      broken('keys-unreadable', `The access keys of ${r.repository} could not be read, so whether Valohai can fetch it is not known: ${r.error}`, r.repository);
    }
  }

  const repairPlanned: string[] = [];
  if (missing.length && publicKey) {
    if (input.repair && input.dryRun) {
      for (const r of missing) {
        repairPlanned.push(r.repository);
        broken('key-missing', `${r.repository} lacks the connection's key, so Valohai cannot fetch it: --repair would put the same key back (dry run: not done).`, r.repository);
      }
    } else if (input.repair) {
      const targets = missing.map((r) => targetOf(r.repository, r.via));
      const answers = await deps.authority.check(targets);
      const via = new Map(targets.map((t) => [t.key, t.via]));
      verdicts.push(...answers.map((v) => ({ ...v, via: via.get(v.repository.toLowerCase()) ?? '' })));
      const refused = refusedTargets(targets, answers);
      const refusedNames = new Set(refused.map((v) => v.repository.toLowerCase()));
      const allowed = targets.filter((t) => !refusedNames.has(t.key));
      for (const v of refused) {
        broken('needs-admin', `${v.repository} lacks the connection's key, and putting it back needs an admin of it: ${v.message ?? 'you may not administer it.'}`, v.repository);
      }
      for (const t of allowed) {
        const repository = `${t.workspace}/${t.slug}`;
        try {
          const added = await deps.bitbucket.addAccessKey(t.workspace, t.slug, { key: publicKey, label: record?.label ?? '' });
          repaired.push({ repository, keyId: added.id });
        } catch (err) {
          broken('repair-failed', `The connection's key could not be put back on ${repository}: ${messageOf(err)}`, repository);
        }
      }
      if (record && repaired.length) {
        // Restored where it was recorded: the record learns the new key ids and gains no repository.
        const ids = new Map(repaired.map((r) => [r.repository.toLowerCase(), r.keyId]));
        await deps.store?.put({
          ...record,
          targets: record.targets.map((t) => (ids.has(t.repository.toLowerCase()) ? { ...t, keyId: ids.get(t.repository.toLowerCase()) ?? null } : t)),
        });
      }
    } else {
      for (const r of missing) {
        broken('key-missing', `${r.repository} lacks the connection's key, so Valohai cannot fetch it: run check with --repair to put the same key back, or rotate.`, r.repository);
      }
    }
  }

  const moved = st.warnings.find((w) => w.code === 'project-moved');
  if (moved) broken('project-moved', moved.message);

  let fetch: CheckResult['fetch'];
  if (!moved && !input.dryRun && (st.connected || repaired.length)) {
    const fetched = await deps.valohai.fetchRepository(st.valohai.projectId);
    const context = { ref: st.valohai.ref ?? st.ref, sshUrl: st.valohai.url ?? st.sshUrl };
    const errors = fetched.errors.map((e) => explainFetchError(e, context));
    const commits = await deps.valohai.listCommits(st.valohai.projectId, 100);
    const headSeen = commits.some((c) => c.identifier === st.headCommit);
    fetch = { newCommits: fetched.commits.map((c) => c.identifier), errors, headSeen };
    for (const e of errors) broken('fetch-failed', `Valohai's fetch failed: ${e}`);
    if (!headSeen && !errors.length) {
      broken('head-not-fetched', `Valohai fetched, but its commits do not include ${st.headCommit}, the head of ${st.ref} on Bitbucket. Check the project's fetch reference in Valohai.`);
    }
    const at = (deps.clock?.now() ?? new Date()).toISOString();
    if (record) {
      const latest = (await deps.store?.get(st.repository, st.valohai.projectId)) ?? record;
      await deps.store?.put({ ...latest, lastSync: { at, commits: fetch.newCommits, errors } });
    }
  }

  const repairedNames = new Set(repaired.map((r) => r.repository.toLowerCase()));
  for (const w of st.warnings) {
    if (MAPPED.has(w.code)) continue;
    if (w.repository && repairedNames.has(w.repository.toLowerCase())) continue;
    findings.push({ severity: 'degraded', code: w.code, message: w.message, ...(w.repository ? { repository: w.repository } : {}) });
  }

  const health: Health = findings.some((f) => f.severity === 'broken') ? 'broken' : findings.length ? 'degraded' : 'healthy';
  return {
    repository: st.repository,
    ref: st.ref,
    headCommit: st.headCommit,
    projectId: st.valohai.projectId,
    projectName: st.valohai.projectName,
    health,
    keyAgeDays: st.keyAgeDays,
    findings,
    repaired,
    ...(input.dryRun ? { repairPlanned } : {}),
    fetch,
    checkedAt: (deps.clock?.now() ?? new Date()).toISOString(),
    listings,
    verdicts,
  };
}
