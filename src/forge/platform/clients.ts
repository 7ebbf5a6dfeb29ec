/** Client construction and the few addresses the pages link to. */
import { BitbucketClient, BitbucketRateLimitError, type BitbucketTransport } from '../../bitbucket/index';
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
 * separately. Repositories of other workspaces, which the app cannot see, are read with the token, and so
 * is a read the app's own hour refuses (429): the work goes on within the token's hour, whose ledger
 * counts it and makes it wait when that is spent too, rather than fail on the app's.
 */
export function withAppReads(app: BitbucketApi, token: BitbucketApi, homeWorkspace: string): BitbucketApi {
  const home = homeWorkspace.toLowerCase();
  const read = <T>(workspace: string, call: (api: BitbucketApi) => Promise<T>): Promise<T> =>
    workspace.toLowerCase() !== home
      ? call(token)
      : call(app).catch((err: unknown) => {
          if (err instanceof BitbucketRateLimitError) return call(token);
          throw err;
        });
  return {
    getRepository: (workspace, repo) => read(workspace, (api) => api.getRepository(workspace, repo)),
    getBranchHead: (workspace, repo, branch) => read(workspace, (api) => api.getBranchHead(workspace, repo, branch)),
    getFileAtCommit: (workspace, repo, commit, path) => read(workspace, (api) => api.getFileAtCommit(workspace, repo, commit, path)),
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
