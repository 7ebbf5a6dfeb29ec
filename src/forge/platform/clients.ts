/** Client construction and the few addresses the pages link to. */
import { BitbucketClient, type BitbucketTransport } from '../../bitbucket/index';
import type { BitbucketApi } from '../../connect/index';
import type { CallLimits, ForgePlatform, ValohaiPort } from './ports';
import type { ValohaiSecret } from '../store/records';

export function bitbucketClient(transport: BitbucketTransport, limits: CallLimits): BitbucketClient {
  return new BitbucketClient({ transport, retry: { maxAttempts: limits.maxAttempts, maxTotalMs: limits.maxTotalMs } });
}

export function appBitbucket(platform: ForgePlatform, limits: CallLimits): BitbucketClient {
  return bitbucketClient(platform.bitbucketAsApp, limits);
}

/**
 * Bitbucket for work done with the stored API token. The token's account has about 1,000 requests an
 * hour for every page load and job of the workspace, and only it may manage access keys and read other
 * people's permissions; repositories of the app's own workspace are read as the app, which Forge counts
 * separately. Repositories of other workspaces, which the app cannot see, are read with the token.
 */
export function withAppReads(app: BitbucketApi, token: BitbucketApi, homeWorkspace: string): BitbucketApi {
  const home = homeWorkspace.toLowerCase();
  const reader = (workspace: string) => (workspace.toLowerCase() === home ? app : token);
  return {
    getRepository: (workspace, repo) => reader(workspace).getRepository(workspace, repo),
    getBranchHead: (workspace, repo, branch) => reader(workspace).getBranchHead(workspace, repo, branch),
    getFileAtCommit: (workspace, repo, commit, path) => reader(workspace).getFileAtCommit(workspace, repo, commit, path),
    listAccessKeys: (workspace, repo) => token.listAccessKeys(workspace, repo),
    addAccessKey: (workspace, repo, key) => token.addAccessKey(workspace, repo, key),
    deleteAccessKey: (workspace, repo, id) => token.deleteAccessKey(workspace, repo, id),
  };
}

export function valohaiFor(platform: ForgePlatform, secret: ValohaiSecret, limits: CallLimits): ValohaiPort {
  return platform.makeValohai({ host: secret.host, token: secret.token }, limits);
}

/** `workspace/slug` → its parts. */
export function splitFullName(fullName: string): { workspace: string; repo: string } {
  const slash = fullName.indexOf('/');
  return { workspace: fullName.slice(0, slash), repo: fullName.slice(slash + 1) };
}

export { accessKeysUrl } from '../contract';

/** A Valohai project's page: `<host>/p/<owner>/<name>/`. */
export function valohaiProjectUrl(host: string, owner: string | null, name: string): string | null {
  if (!owner) return null;
  return `${host.replace(/\/+$/, '')}/p/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/`;
}
