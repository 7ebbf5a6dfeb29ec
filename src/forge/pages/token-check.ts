/**
 * Checks a token before it is stored: Valohai's `users/me`, and for Bitbucket the account plus a probe
 * of which access-key scopes the token has. The probe asks for a repository that does not exist:
 * Bitbucket checks scopes before it looks the repository up, so a missing scope answers 403 and a
 * present one 404, and nothing can change (the key id probed is 0, which no key ever has).
 */
import { randomBytes } from 'node:crypto';
import {
  BitbucketAuthError,
  BitbucketClient,
  BitbucketError,
  BitbucketForbiddenError,
  BitbucketNetworkError,
  type BitbucketTransport,
  type BitbucketRequest,
} from '../../bitbucket/index';
import { bitbucketMessageOf } from '../../bitbucket/errors';
import { ValohaiAuthError, ValohaiError } from '../../valohai/index';
import { ATLASSIAN_API_TOKENS_URL, BITBUCKET_TOKEN_SCOPES, valohaiTokensUrl } from '../contract';
import { ResolverFailure } from '../errors';
import { bracedUuid } from '../store/keys';
import type { CallLimits, ValohaiPort } from '../platform/ports';

/** The token's username; throws ResolverFailure with the fix when Valohai refuses or cannot be reached. */
export async function checkValohaiToken(valohai: ValohaiPort, host: string): Promise<string> {
  try {
    return (await valohai.me()).username;
  } catch (err) {
    if (err instanceof ValohaiAuthError) {
      throw new ResolverFailure(
        'invalid-token',
        `Valohai at ${host} refused this token (401); nothing was saved.`,
        `Create a token at ${valohaiTokensUrl(host)} (signed in as the Valohai user the app should act as) and paste it here.`,
      );
    }
    if (err instanceof ValohaiError) {
      throw new ResolverFailure(
        'valohai-error',
        `The token could not be checked, so nothing was saved: ${err.message}`,
        `Check the Valohai address (${host}) and try again.`,
      );
    }
    throw err;
  }
}

export interface BitbucketTokenCheck {
  accountName: string | null;
  missingScopes: string[];
  /** Whether the token's account administers the workspace; null when the token may not say. */
  workspaceAdmin: boolean | null;
}

const LACKS_SCOPES = /lack one or more required privilege scopes/i;

function refusedToken(message: string): ResolverFailure {
  return new ResolverFailure(
    'invalid-token',
    `${message} Nothing was saved.`,
    `Create an API token with scopes at ${ATLASSIAN_API_TOKENS_URL} (app Bitbucket; scopes ${BITBUCKET_TOKEN_SCOPES.join(', ')}) and save it with the email address of that same Atlassian account.`,
  );
}

function unreachable(detail: string): ResolverFailure {
  return new ResolverFailure(
    'bitbucket-error',
    `The token could not be checked, so nothing was saved: ${detail}`,
    'Try again in a moment. Until a token is stored, repositories can still be connected by hand (the page shows the key to paste).',
  );
}

/** Scopes the 403 body names as missing, when Bitbucket lists them. */
function scopesNamedIn(text: string): string[] | undefined {
  try {
    const body = JSON.parse(text) as { error?: { data?: { missing?: unknown }; detail?: unknown } };
    const missing = body.error?.data?.missing;
    if (Array.isArray(missing)) return missing.filter((s): s is string => typeof s === 'string');
  } catch {
    // no list to read
  }
  return undefined;
}

export async function checkBitbucketToken(
  transport: BitbucketTransport,
  workspaceId: string,
  limits: CallLimits,
): Promise<BitbucketTokenCheck> {
  const client = new BitbucketClient({ transport, retry: { maxAttempts: limits.maxAttempts, maxTotalMs: limits.maxTotalMs } });
  let accountName: string | null = null;
  try {
    accountName = (await client.getCurrentUser()).displayName;
  } catch (err) {
    if (err instanceof BitbucketAuthError) {
      throw refusedToken('Bitbucket did not accept this email and API token (401): the pair is wrong, or the token expired or was revoked.');
    }
    if (err instanceof BitbucketForbiddenError && err.code === 'wrong_auth_mechanism') {
      throw refusedToken('Bitbucket refused this kind of token: repository, project and workspace access tokens cannot manage access keys.');
    }
    if (err instanceof BitbucketNetworkError) throw unreachable(err.message);
    // 403 for the account read alone means the token lacks read:user:bitbucket, which the app does not
    // need; anything else that is not Bitbucket's own 403 (a blocked host answers 403 too) is a failure.
    if (!(err instanceof BitbucketForbiddenError && LACKS_SCOPES.test(err.bitbucketMessage ?? ''))) {
      if (err instanceof BitbucketError) throw unreachable(err.message);
      throw err;
    }
  }
  const [missingScopes, workspaceAdmin] = await Promise.all([probeScopes(transport, workspaceId), administersWorkspace(transport, workspaceId)]);
  return { accountName, missingScopes, workspaceAdmin };
}

/**
 * The token's own role in the workspace. Keys go only where its account is an admin: a member's token
 * is stored, but the pages say what it cannot do. Without read:workspace:bitbucket (not a scope the app
 * asks for) Bitbucket answers 403 for the scope, and the answer is "unknown", not "no".
 */
async function administersWorkspace(transport: BitbucketTransport, workspaceId: string): Promise<boolean | null> {
  let res;
  try {
    res = await transport.request({ method: 'GET', path: `/user/workspaces/${encodeURIComponent(bracedUuid(workspaceId, 'workspace'))}/permission` });
  } catch {
    return null;
  }
  if (res.status === 404) return false;
  if (res.status < 200 || res.status >= 300) return null;
  try {
    return (JSON.parse(res.text) as { permission?: unknown }).permission === 'owner';
  } catch {
    return null;
  }
}

async function probeScopes(transport: BitbucketTransport, workspaceId: string): Promise<string[]> {
  const ws = encodeURIComponent(bracedUuid(workspaceId, 'workspace'));
  const repo = `/repositories/${ws}/valohai-scope-probe-${randomBytes(6).toString('hex')}`;
  const probes: { scope: string; needs: string[]; req: BitbucketRequest }[] = [
    { scope: 'read:repository:bitbucket', needs: [], req: { method: 'GET', path: repo } },
    { scope: 'admin:repository:bitbucket', needs: [], req: { method: 'GET', path: `${repo}/deploy-keys` } },
    {
      scope: 'write:ssh-key:bitbucket',
      needs: ['admin:repository:bitbucket'],
      req: { method: 'POST', path: `${repo}/deploy-keys`, body: { key: '', label: 'scope probe' } },
    },
    { scope: 'delete:ssh-key:bitbucket', needs: ['admin:repository:bitbucket'], req: { method: 'DELETE', path: `${repo}/deploy-keys/0` } },
  ];
  const answers = await Promise.all(
    probes.map(async (p) => {
      try {
        return await transport.request(p.req);
      } catch {
        throw unreachable('Bitbucket did not answer while checking what the token may do.');
      }
    }),
  );
  const missing = new Set<string>();
  const unsure = new Set<string>();
  probes.forEach((p, i) => {
    const res = answers[i];
    if (!res) return;
    if (res.status === 401) throw refusedToken('Bitbucket did not accept this email and API token (401).');
    if (res.status !== 403) return;
    const named = scopesNamedIn(res.text);
    if (named) {
      named.forEach((s) => missing.add(s));
      return;
    }
    if (!LACKS_SCOPES.test(bitbucketMessageOf(res.text) ?? '')) return;
    if (p.needs.length) unsure.add(p.scope);
    else missing.add(p.scope);
  });
  // A 403 on a call needing two scopes blames the second only when the first is known to be there.
  for (const scope of unsure) {
    const probe = probes.find((p) => p.scope === scope);
    if (probe && probe.needs.every((n) => !missing.has(n))) missing.add(scope);
  }
  return BITBUCKET_TOKEN_SCOPES.filter((s) => missing.has(s));
}
