/**
 * Who may do what, decided from the trusted context only. Repository actions need the caller to be an
 * admin of the repository (Bitbucket's answer for the caller, asked as the caller); workspace
 * credentials need the caller to own the workspace. The repository itself is read as the app, by the
 * UUIDs from the context: the payload never names it.
 */
import {
  BitbucketError,
  BitbucketNetworkError,
  BitbucketRateLimitError,
  getWorkspaceMembership,
  type Repository,
  type RepositoryPermission,
  type WorkspaceMembership,
} from '../../bitbucket/index';
import { appBitbucket, bitbucketClient } from '../platform/clients';
import { failures } from '../errors';
import { bareUuid, bracedUuid } from '../store/keys';
import { RESOLVER_LIMITS, type ForgePlatform, type TrustedContext } from '../platform/ports';
import { keptRepository } from '../store/repository-listing';

export interface RepositoryAccess {
  workspaceUuid: string;
  repositoryUuid: string;
  permission: RepositoryPermission;
  repository: Repository;
}

/** A failure of the app's own read that passes by itself: its rate limit, no answer, Bitbucket's own fault. */
function passing(err: unknown): boolean {
  return err instanceof BitbucketRateLimitError || err instanceof BitbucketNetworkError || (err instanceof BitbucketError && err.status >= 500);
}

/**
 * The context's repository and the caller's permission on it; refuses callers with no access at all.
 * `keptOnFailure` (a page load): when the app's read of the repository fails for a while (its rate
 * limit, no answer), the repository as the app last saw it (the workspace's kept listing, else its
 * connection's record) stands in, so the page still shows; the caller's permission is always read.
 */
export async function repositoryAccess(platform: ForgePlatform, context: TrustedContext, options: { keptOnFailure?: boolean } = {}): Promise<RepositoryAccess> {
  if (!context.repositoryUuid) throw failures.noRepository();
  const workspaceId = bracedUuid(context.workspaceId, 'workspace');
  const repositoryId = bracedUuid(context.repositoryUuid, 'repository');
  const asUser = bitbucketClient(platform.bitbucketAsUser(context), RESOLVER_LIMITS);
  const read = appBitbucket(platform, RESOLVER_LIMITS).getRepository(workspaceId, repositoryId);
  const [permission, repository] = await Promise.all([
    asUser.getRepositoryPermission(workspaceId, repositoryId),
    options.keptOnFailure
      ? read.catch(async (err: unknown) => {
          const kept = passing(err) ? await keptRepository(platform, workspaceId, repositoryId) : undefined;
          if (!kept) throw err;
          platform.log.info('repository read refused for a while: the kept listing stands in', { error: err instanceof Error ? err.name : 'unknown' });
          return kept;
        })
      : read,
  ]);
  if (permission === 'none') throw failures.noAccess('repository');
  return {
    workspaceUuid: bareUuid(workspaceId, 'workspace'),
    repositoryUuid: bareUuid(repositoryId, 'repository'),
    permission,
    repository,
  };
}

export async function repositoryAdmin(platform: ForgePlatform, context: TrustedContext): Promise<RepositoryAccess> {
  const access = await repositoryAccess(platform, context);
  if (access.permission !== 'admin') throw failures.notAdmin('repository');
  return access;
}

export async function workspaceMember(platform: ForgePlatform, context: TrustedContext): Promise<WorkspaceMembership> {
  const membership = await getWorkspaceMembership(platform.bitbucketAsUser(context), bracedUuid(context.workspaceId, 'workspace'));
  if (membership.permission === 'none') throw failures.noAccess('workspace');
  return membership;
}

export async function workspaceAdmin(platform: ForgePlatform, context: TrustedContext): Promise<WorkspaceMembership> {
  const membership = await workspaceMember(platform, context);
  if (membership.permission !== 'owner') throw failures.notAdmin('workspace');
  return membership;
}
