/**
 * audit: every access key on every repository of a workspace, not only this app's, with what each one
 * is (type, size, fingerprint, age, last use), which recorded connection it belongs to, and what needs
 * a look: unused for a long time, weak (RSA under 3072 bits, DSA), the same key on several repositories
 * outside any connection, a label like this app's that no connection recorded. Reads only: one listing
 * of the workspace (100 repositories a page) and one key listing per repository. The rules for each
 * key are in audit-keys.ts.
 */
import { auditKey, connectionIndex, DEFAULT_UNUSED_DAYS, markInUse, markShared, type AuditedKey, type AuditResult } from './audit-keys';
import { messageOf } from './explain';
import type { AccessKeyInfo, Clock, ConnectionRecord } from './ports';
import { mapBounded } from './saga';

export * from './audit-keys';

export interface AuditBitbucket {
  listRepositories(workspace: string): Promise<{ workspace: string; slug: string; fullName: string }[]>;
  listAccessKeys(workspace: string, repo: string): Promise<AccessKeyInfo[]>;
}

export interface AuditDeps {
  bitbucket: AuditBitbucket;
  /** The connections recorded where the audit runs (for the CLI, its state folder). */
  connections: () => Promise<ConnectionRecord[]>;
  clock?: Clock;
  concurrency?: number;
  /** Told how many key listings the audit is about to make, once the workspace is listed (before any). */
  onPlan?: (plan: { repositories: number; toRead: number }) => void;
  /** Told each repository's keys as they are read, so a caller can keep them and resume later. */
  onRead?: (repository: string, keys: AccessKeyInfo[]) => void | Promise<void>;
}

/** An audit that stopped at Bitbucket's rate limit: what it read is kept by `onRead`, and the rest waits. */
export interface AuditStopped {
  read: number;
  total: number;
  /** Seconds Bitbucket asked to wait, when it said. */
  retryAfterSeconds?: number;
}

export interface AuditInput {
  workspace: string;
  unusedDays?: number;
  /** Keys already read by an earlier run that stopped, by repository full name: not read again. */
  alreadyRead?: Record<string, AccessKeyInfo[]>;
}

/**
 * The audit, or where it stopped: at Bitbucket's rate limit (429) it reads no further, and what it had
 * read is what `onRead` was given, for a later run's `alreadyRead`.
 */
export async function audit(deps: AuditDeps, input: AuditInput): Promise<AuditResult | (AuditStopped & { stopped: true })> {
  const unusedDays = input.unusedDays ?? DEFAULT_UNUSED_DAYS;
  const now = deps.clock?.now() ?? new Date();
  const [repos, records] = await Promise.all([deps.bitbucket.listRepositories(input.workspace), deps.connections()]);
  const byKey = connectionIndex(records);
  const earlier = new Map(Object.entries(input.alreadyRead ?? {}).map(([name, keys]) => [name.toLowerCase(), keys]));
  deps.onPlan?.({ repositories: repos.length, toRead: repos.filter((r) => !earlier.has(r.fullName.toLowerCase())).length });

  const unreadable: AuditResult['unreadable'] = [];
  let limited: { retryAfterSeconds?: number } | undefined;
  let read = 0;
  const listed = await mapBounded(repos, deps.concurrency ?? 8, async (repo) => {
    const kept = earlier.get(repo.fullName.toLowerCase());
    if (kept) {
      read += 1;
      return { repo, keys: kept };
    }
    if (limited) return { repo, keys: [] as AccessKeyInfo[] };
    try {
      const keys = await deps.bitbucket.listAccessKeys(repo.workspace, repo.slug);
      await deps.onRead?.(repo.fullName, keys);
      read += 1;
      return { repo, keys };
    } catch (err) {
      // The client's rate-limit error (Bitbucket's 429, or the token's hour spent by the caller's own
      // count), told by name or code: the engine knows the client only through its port.
      const e = err as { name?: unknown; code?: unknown; retryAfterSeconds?: unknown };
      if (e.name === 'BitbucketRateLimitError' || e.code === 'rate_limited') {
        limited = typeof e.retryAfterSeconds === 'number' ? { retryAfterSeconds: e.retryAfterSeconds } : {};
        return { repo, keys: [] as AccessKeyInfo[] };
      }
      unreadable.push({ repository: repo.fullName, error: messageOf(err) });
      return { repo, keys: [] as AccessKeyInfo[] };
    }
  });
  if (limited) return { stopped: true, read, total: repos.length, ...limited };

  const keys: AuditedKey[] = listed.flatMap(({ repo, keys: onRepo }) => onRepo.map((k) => auditKey(repo.fullName, k, byKey, now, unusedDays)));
  markShared(keys);
  markInUse(keys);
  unreadable.sort((a, b) => a.repository.localeCompare(b.repository));
  return { workspace: input.workspace, repositories: repos.length, keys, unreadable, unusedDays, auditedAt: now.toISOString() };
}

