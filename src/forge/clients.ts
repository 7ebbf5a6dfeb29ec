/** Client construction and the few addresses the pages link to. */
import { BitbucketClient, type BitbucketTransport } from '../bitbucket/index';
import type { CallLimits, ForgePlatform, ValohaiPort } from './platform';
import type { BitbucketSecret, ValohaiSecret } from './records';

export function bitbucketClient(transport: BitbucketTransport, limits: CallLimits): BitbucketClient {
  return new BitbucketClient({ transport, retry: { maxAttempts: limits.maxAttempts, maxTotalMs: limits.maxTotalMs } });
}

export function appBitbucket(platform: ForgePlatform, limits: CallLimits): BitbucketClient {
  return bitbucketClient(platform.bitbucketAsApp, limits);
}

export function tokenBitbucket(platform: ForgePlatform, secret: BitbucketSecret, limits: CallLimits): BitbucketClient {
  return bitbucketClient(platform.makeBitbucketWithToken({ email: secret.email, token: secret.token }, limits), limits);
}

export function valohaiFor(platform: ForgePlatform, secret: ValohaiSecret, limits: CallLimits): ValohaiPort {
  return platform.makeValohai({ host: secret.host, token: secret.token }, limits);
}

/** `workspace/slug` → its parts. */
export function splitFullName(fullName: string): { workspace: string; repo: string } {
  const slash = fullName.indexOf('/');
  return { workspace: fullName.slice(0, slash), repo: fullName.slice(slash + 1) };
}

export { accessKeysUrl } from './contract';

/** A Valohai project's page: `<host>/p/<owner>/<name>/`. */
export function valohaiProjectUrl(host: string, owner: string | null, name: string): string | null {
  if (!owner) return null;
  return `${host.replace(/\/+$/, '')}/p/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/`;
}
