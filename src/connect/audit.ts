/**
 * audit: every access key on every repository of a workspace, not only this app's, with what each one
 * is (type, size, fingerprint, age, last use), which recorded connection it belongs to, and what needs
 * a look: unused for a long time, weak (RSA under 3072 bits, DSA), the same key on several repositories
 * outside any connection, a label like this app's that no connection recorded. Reads only: one listing
 * of the workspace (100 repositories a page) and one key listing per repository. The rules for each
 * key are in audit-keys.ts.
 */
import { auditKey, connectionIndex, DEFAULT_UNUSED_DAYS, markShared, type AuditedKey, type AuditResult } from './audit-keys';
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
}

export async function audit(deps: AuditDeps, input: { workspace: string; unusedDays?: number }): Promise<AuditResult> {
  const unusedDays = input.unusedDays ?? DEFAULT_UNUSED_DAYS;
  const now = deps.clock?.now() ?? new Date();
  const [repos, records] = await Promise.all([deps.bitbucket.listRepositories(input.workspace), deps.connections()]);
  const byKey = connectionIndex(records);

  const unreadable: AuditResult['unreadable'] = [];
  const listed = await mapBounded(repos, deps.concurrency ?? 8, async (repo) => {
    try {
      return { repo, keys: await deps.bitbucket.listAccessKeys(repo.workspace, repo.slug) };
    } catch (err) {
      unreadable.push({ repository: repo.fullName, error: messageOf(err) });
      return { repo, keys: [] as AccessKeyInfo[] };
    }
  });

  const keys: AuditedKey[] = listed.flatMap(({ repo, keys: onRepo }) => onRepo.map((k) => auditKey(repo.fullName, k, byKey, now, unusedDays)));
  markShared(keys);
  unreadable.sort((a, b) => a.repository.localeCompare(b.repository));
  return { workspace: input.workspace, repositories: repos.length, keys, unreadable, unusedDays, auditedAt: now.toISOString() };
}

