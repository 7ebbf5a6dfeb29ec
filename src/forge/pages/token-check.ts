/**
 * Checks a token before it is stored: Valohai's `users/me`, and for Bitbucket the account, a probe of
 * which access-key scopes the token has (bitbucket/permissions.ts) and whether its account administers
 * the workspace. Here: what each answer means for saving the token, in the page's words.
 */
import {
  BitbucketAuthError,
  BitbucketClient,
  BitbucketError,
  BitbucketForbiddenError,
  BitbucketNetworkError,
  isMissingScopeError,
  probeAccessKeyScopes,
  tokenAdministersWorkspace,
  type BitbucketTransport,
  type ScopeProbe,
} from '../../bitbucket/index';
import { ValohaiAuthError, ValohaiError } from '../../valohai/index';
import { ATLASSIAN_API_TOKENS_URL, BITBUCKET_TOKEN_SCOPES, valohaiTokensUrl } from '../contract';
import { ResolverFailure } from '../errors';
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
  /** The token's Atlassian account; null when the token may not read it. */
  accountId: string | null;
  missingScopes: string[];
  /** Whether the token's account administers the workspace; null when the token may not say. */
  workspaceAdmin: boolean | null;
}

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

export async function checkBitbucketToken(
  transport: BitbucketTransport,
  workspaceId: string,
  limits: CallLimits,
): Promise<BitbucketTokenCheck> {
  const client = new BitbucketClient({ transport, retry: { maxAttempts: limits.maxAttempts, maxTotalMs: limits.maxTotalMs } });
  let accountName: string | null = null;
  let accountId: string | null = null;
  try {
    const user = await client.getCurrentUser();
    accountName = user.displayName;
    accountId = user.accountId;
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
    if (!isMissingScopeError(err)) {
      if (err instanceof BitbucketError) throw unreachable(err.message);
      throw err;
    }
  }
  // The token's own role decides where keys may go: a member's token is stored, but the pages say what
  // it cannot do. Without read:workspace:bitbucket (not a scope the app asks for) the role is unknown.
  const [probe, workspaceAdmin] = await Promise.all([probeAccessKeyScopes(transport, workspaceId), tokenAdministersWorkspace(transport, workspaceId)]);
  return { accountName, accountId, missingScopes: missingScopes(probe), workspaceAdmin };
}

/** The scopes of the page's list the probe found missing; a probe that could not tell fails the check. */
function missingScopes(probe: ScopeProbe): string[] {
  if (probe.kind === 'unanswered') throw unreachable('Bitbucket did not answer while checking what the token may do.');
  if (probe.kind === 'refused') throw refusedToken('Bitbucket did not accept this email and API token (401).');
  return BITBUCKET_TOKEN_SCOPES.filter((s) => probe.missing.has(s));
}

/** What each scope the app asks for lets it do, as the page says what stops working without it. */
const SCOPE_USES: Record<string, string> = {
  'read:repository:bitbucket': 'reading repositories and their .gitmodules',
  'admin:repository:bitbucket': 'checking who administers a repository before its key goes on',
  'write:ssh-key:bitbucket': 'adding access keys, so Connect and Rotate fail',
  'delete:ssh-key:bitbucket': 'removing access keys, so Disconnect and Rotate leave old keys behind',
};

/** The stored token's account, as the page names it. */
function accountWords(entry: { accountName: string | null; email: string }): string {
  return entry.accountName ? `${entry.accountName} (${entry.email})` : entry.email;
}

/**
 * What a working stored token can do that a new one cannot, one sentence each: scopes the stored token
 * has and the new one lacks, a workspace admin's token replaced by a non-admin's, another account's
 * token. Empty when the new token does at least as much. A stored token that no longer works (Bitbucket
 * refused it, or its date passed) loses nothing by being replaced.
 */
export function tokenLosses(
  stored: { email: string; accountName: string | null; accountId?: string | null; missingScopes: string[]; workspaceAdmin?: boolean | null; problem?: unknown },
  storedUsable: boolean,
  fresh: BitbucketTokenCheck & { email: string },
): string[] {
  if (!storedUsable || stored.problem) return [];
  const losses: string[] = [];
  const lost = fresh.missingScopes.filter((s) => !stored.missingScopes.includes(s));
  for (const scope of lost) losses.push(`it lacks ${scope}, which the stored token has: ${SCOPE_USES[scope] ?? 'part of what the app does'} would stop working`);
  if (stored.workspaceAdmin === true && fresh.workspaceAdmin !== true) {
    losses.push(
      `its account ${accountWords({ ...fresh, email: fresh.email })} is not an admin of this workspace, as the stored token's is: keys could then go only on repositories that account administers`,
    );
  }
  const other =
    stored.accountId && fresh.accountId ? stored.accountId !== fresh.accountId : stored.email.trim().toLowerCase() !== fresh.email.trim().toLowerCase();
  if (other) {
    losses.push(
      `it is the token of ${accountWords({ ...fresh, email: fresh.email })}, not of ${accountWords(stored)} whose token is stored: keys would be added and removed as that other account from now on`,
    );
  }
  return losses;
}

/** The refusal to replace a working token with one that does less, naming what would stop working. */
export function worseTokenRefusal(losses: string[]): ResolverFailure {
  return new ResolverFailure(
    'worse-token',
    `The stored Bitbucket API token was kept: the new one does less. ${losses.map((l) => l.charAt(0).toUpperCase() + l.slice(1)).join('. ')}.`,
    'Save a token with every scope the stored one has, of a workspace admin, or choose Replace anyway to store this one instead.',
  );
}
