/**
 * status: per repository, the connection's key (label, fingerprint, created, last used, age), keys
 * labelled for the project that are not the current one (orphans), and Valohai's view beside Bitbucket's.
 * Reads only.
 */
import { parsePublicKey } from '../ssh/index';
import { discover } from './discover';
import { messageOf } from './explain';
import { currentKey, lookalikeWarnings, normaliseKey, ourKeys } from './keys';
import type { AccessKeyInfo, ConnectionRecord, ValohaiProjectInfo, WorkflowDeps } from './ports';
import { fetchesElsewhere, projectMovedWarning } from './project-use';
import { ageDays, KEY_AGE_ALERT_DAYS, KEY_AGE_WARNING_DAYS } from './key-age';
import { mapBounded } from './saga';
import { unrecordedTargets } from './trust';
import type { Warning } from './types';

export interface KeyView {
  id: number;
  label: string;
  fingerprint: string;
  createdOn: string | null;
  lastUsed: string | null;
  ageDays: number | null;
}

export interface RepositoryKeyStatus {
  repository: string;
  via: string;
  key: KeyView | null;
  orphans: KeyView[];
  /** Set when the repository's keys could not be read. */
  error?: string;
  /** Set when that was Bitbucket's rate limit (429), with the wait it asked for, if any. */
  rateLimited?: { retryAfterSeconds?: number };
  /**
   * A repository `.gitmodules` names that the connection does not record (`onlyRecorded`): its keys were
   * not read, and nothing but a person's own action gives it the key.
   */
  unrecorded?: true;
}

export interface StatusResult {
  repository: string;
  sshUrl: string;
  ref: string;
  headCommit: string;
  connected: boolean;
  fingerprint: string | null;
  keyType: string | null;
  keyAgeDays: number | null;
  repositories: RepositoryKeyStatus[];
  valohai: {
    projectId: string;
    projectName: string;
    url: string | null;
    ref: string | null;
    newestCommit: string | null;
    inSync: boolean;
  };
  lastSync?: { at: string; commits: string[]; errors: string[] };
  warnings: Warning[];
}

function view(k: AccessKeyInfo, now: Date): KeyView {
  let fingerprint = '';
  try {
    fingerprint = parsePublicKey(k.key).fingerprint;
  } catch {
    fingerprint = 'unreadable key';
  }
  return {
    id: k.id,
    label: k.label,
    fingerprint,
    createdOn: k.createdOn ?? null,
    lastUsed: k.lastUsed,
    ageDays: ageDays(k.createdOn, now),
  };
}

export interface StatusInput {
  workspace: string;
  repo: string;
  project: string;
  ref?: string;
  /** Whether to look at submodule repositories; default: the connection's recorded choice, else yes. */
  submodules?: boolean;
}

export interface StatusOptions {
  /** `false`: Valohai's commits are not read (a caller that asks Valohai to fetch reads them after). */
  commits?: boolean;
  /**
   * Read the keys of the superproject and the repositories the connection records only: a repository
   * `.gitmodules` names since is reported as new (`new-target`), its keys unread. What a check does: its
   * credentials are not spent on, and its findings say nothing of, repositories no person chose.
   */
  onlyRecorded?: boolean;
}

const UNREAD: PromiseSettledResult<AccessKeyInfo[]> = { status: 'fulfilled', value: [] };

/** One repository's access keys as Bitbucket listed them, or why they could not be read (the error thrown). */
export interface KeyListing {
  /** `workspace/slug`. */
  repository: string;
  keys?: AccessKeyInfo[];
  error?: unknown;
}

export async function status(deps: Omit<WorkflowDeps, 'authority'>, input: StatusInput, options: StatusOptions = {}): Promise<StatusResult> {
  return (await readStatus(deps, input, options)).status;
}

/** `status`, with the key listings it read on its way (a repository left unread has none). */
export async function readStatus(
  deps: Omit<WorkflowDeps, 'authority'>,
  input: StatusInput,
  options: StatusOptions = {},
): Promise<{ status: StatusResult; listings: KeyListing[] }> {
  let submodules = input.submodules;
  let found: ValohaiProjectInfo | undefined;
  if (submodules === undefined && deps.store) {
    // The connection's own choice decides how far to look: one made without submodules has none to check.
    found = await deps.valohai.findProject(input.project);
    const early = await deps.store.get(`${input.workspace}/${input.repo}`, found.id);
    submodules = early?.submodules ?? true;
  }
  const [plan, project] = await Promise.all([
    discover(deps.bitbucket, { ...input, submodules: submodules ?? true, concurrency: deps.concurrency }),
    found ? Promise.resolve(found) : deps.valohai.findProject(input.project),
  ]);
  const now = deps.clock?.now() ?? new Date();
  const remembered: ConnectionRecord | undefined = await deps.store?.get(plan.repository.fullName, project.id);
  const unrecorded = new Set(options.onlyRecorded ? unrecordedTargets(plan.targets.slice(1), remembered?.targets).map((t) => t.key) : []);
  // Independent reads, side by side: a status read sits on a page load.
  const [listed, commits] = await Promise.all([
    mapBounded(plan.targets, deps.concurrency ?? 8, (t) =>
      unrecorded.has(t.key)
        ? Promise.resolve(UNREAD)
        : deps.bitbucket.listAccessKeys(t.workspace, t.slug).then(
            (value): PromiseSettledResult<AccessKeyInfo[]> => ({ status: 'fulfilled', value }),
            (reason: unknown): PromiseSettledResult<AccessKeyInfo[]> => ({ status: 'rejected', reason }),
          ),
    ),
    // Valohai lists commits of every branch, newest first: in step means the head of our ref is among them.
    options.commits === false ? Promise.resolve([]) : deps.valohai.listCommits(project.id, 100).catch(() => []),
  ]);
  const superKeys = listed[0]?.status === 'fulfilled' ? listed[0].value : [];
  // Only the recorded key is the connection's; keys that merely carry its label are named, never counted.
  const current = currentKey(superKeys, remembered);
  const warnings: Warning[] = [...plan.warnings];
  warnings.push(
    ...lookalikeWarnings(
      plan.targets.flatMap((target, i) => {
        const got = listed[i];
        return got?.status === 'fulfilled' ? [{ target, keys: got.value }] : [];
      }),
      project.id,
      remembered,
      [],
      deps.labelMaker ?? 'app',
    ),
  );

  const repositories: RepositoryKeyStatus[] = plan.targets.map((t, i) => {
    const repository = `${t.workspace}/${t.slug}`;
    if (unrecorded.has(t.key)) {
      warnings.push({
        code: 'new-target',
        repository,
        message:
          `${repository}${t.via === 'superproject' ? '' : ` (submodule ${t.via})`} is new since a person last connected or rotated this connection, so it does not hold the connection's key and no check adds it. ` +
          'It needs an admin of it: rotating the connection (or connecting again with the CLI) checks that they administer it and adds the key.',
      });
      return { repository, via: t.via, key: null, orphans: [], unrecorded: true };
    }
    const got = listed[i];
    if (!got || got.status === 'rejected') {
      const failed: RepositoryKeyStatus = { repository, via: t.via, key: null, orphans: [], error: messageOf(got?.reason) };
      const reason = got?.reason as { name?: unknown; retryAfterSeconds?: unknown } | undefined;
      if (reason?.name === 'BitbucketRateLimitError') {
        failed.rateLimited = typeof reason.retryAfterSeconds === 'number' ? { retryAfterSeconds: reason.retryAfterSeconds } : {};
      }
      return failed;
    }
    const mine = ourKeys(got.value, remembered);
    const cur = current ? mine.find((k) => normaliseKey(k.key) === normaliseKey(current.key)) : undefined;
    const orphans = mine.filter((k) => k !== cur).map((k) => view(k, now));
    if (current && !cur) {
      warnings.push({
        code: 'not-fetched',
        repository,
        message: `${repository} does not have the connection's key, so Valohai cannot fetch it. Rotate the key (or run connect again) to put it on every repository.`,
      });
    }
    for (const o of orphans) {
      warnings.push({
        code: 'orphan-key',
        repository,
        message: `${repository} holds an older key of this connection (id ${o.id}, ${o.fingerprint}) that Valohai no longer uses. Run rotate to remove it.`,
      });
    }
    return { repository, via: t.via, key: cur ? view(cur, now) : null, orphans };
  });

  const currentView = current ? view(current, now) : null;
  const age = currentView?.ageDays ?? null;
  if (age !== null && age >= KEY_AGE_ALERT_DAYS) {
    warnings.push({ code: 'key-age-alert', message: `The key is ${age} days old, over a year: rotate it now.` });
  } else if (age !== null && age >= KEY_AGE_WARNING_DAYS) {
    warnings.push({ code: 'key-age-warning', message: `The key is ${age} days old: plan to rotate it (Valohai suggests every 6-12 months).` });
  }
  const unused = repositories.filter((r) => r.key && r.key.lastUsed === null && (r.key.ageDays ?? 0) >= 30);
  for (const r of unused) {
    warnings.push({
      code: 'orphan-key',
      repository: r.repository,
      message: `The key on ${r.repository} has not been used for ${r.key?.ageDays} days. If Valohai no longer needs this repository, disconnect.`,
    });
  }

  const elsewhere = fetchesElsewhere(project.repository?.url, plan.repository);
  if (elsewhere) warnings.unshift(projectMovedWarning(project.name, elsewhere));
  // Commits of another repository say nothing about this one.
  const newest = valohaiCommitOf(commits, elsewhere ? null : plan.headCommit, plan.ref);
  const listings: KeyListing[] = plan.targets.flatMap((t, i): KeyListing[] => {
    const got = listed[i];
    if (unrecorded.has(t.key) || !got) return [];
    const repository = `${t.workspace}/${t.slug}`;
    return [got.status === 'fulfilled' ? { repository, keys: got.value } : { repository, error: got.reason }];
  });
  const result: StatusResult = {
    repository: plan.repository.fullName,
    sshUrl: plan.repository.sshUrl,
    ref: plan.ref,
    headCommit: plan.headCommit,
    connected: current !== undefined,
    fingerprint: currentView?.fingerprint ?? null,
    keyType: current ? (current.key.startsWith('ssh-rsa') ? 'rsa' : current.key.split(' ')[0] ?? null) : null,
    keyAgeDays: age,
    repositories,
    valohai: {
      projectId: project.id,
      projectName: project.name,
      url: project.repository?.url ?? null,
      ref: project.repository?.ref ?? null,
      newestCommit: newest,
      inSync: !elsewhere && newest !== null && newest === plan.headCommit,
    },
    lastSync: remembered?.lastSync,
    warnings,
  };
  return { status: result, listings };
}

/**
 * The commit to show as "Valohai has": Bitbucket's head of the fetch reference when Valohai lists it, else
 * Valohai's newest commit of that reference, else its newest of any.
 */
export function valohaiCommitOf(commits: readonly { identifier: string; ref?: string | null }[], headCommit: string | null, ref: string): string | null {
  if (headCommit && commits.some((c) => c.identifier === headCommit)) return headCommit;
  return commits.find((c) => c.ref === ref)?.identifier ?? commits[0]?.identifier ?? null;
}
