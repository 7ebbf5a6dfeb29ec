/**
 * Who is calling: an Atlassian API token (Basic `email:token`) acting as its user, or a repository /
 * workspace access token (Bearer) acting on the repositories it is bound to.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { RepoPermission } from '../seed/seed-types';
import type { AccessTokenRecord, BitbucketState, RepoRecord, UserRecord } from './state';

interface PrincipalBase {
  scopes: ReadonlySet<string>;
  /** Stable key for per-credential budgets; a hash, never the secret itself. */
  credentialId: string;
}

export interface UserPrincipal extends PrincipalBase {
  kind: 'user';
  user: UserRecord;
}

export interface AccessTokenPrincipal extends PrincipalBase {
  kind: 'access-token';
  token: AccessTokenRecord;
}

export type Principal = UserPrincipal | AccessTokenPrincipal;

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The stable id the emulator gives a credential (its request log's `credential`): never the secret itself. */
export function credentialIdOf(credential: { email: string; token: string } | { bearer: string }): string {
  return 'bearer' in credential ? `bearer:${digest(credential.bearer)}` : `basic:${digest(`${credential.email}:${credential.token}`)}`;
}

export function authenticate(state: BitbucketState, headers: IncomingHttpHeaders): Principal | undefined {
  const header = headers.authorization;
  if (!header) return undefined;
  const m = /^(\w+)\s+(.+)$/.exec(header.trim());
  if (!m) return undefined;
  const scheme = (m[1] as string).toLowerCase();
  const value = m[2] as string;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const email = decoded.slice(0, colon).toLowerCase();
    const secret = decoded.slice(colon + 1);
    const token = state.apiTokens.find((t) => t.user.email.toLowerCase() === email && t.token === secret);
    if (!token) return undefined;
    return { kind: 'user', user: token.user, scopes: token.scopes, credentialId: credentialIdOf({ email: decoded.slice(0, colon), token: secret }) };
  }
  if (scheme === 'bearer') {
    const token = state.accessTokens.find((t) => t.token === value);
    if (!token) return undefined;
    return { kind: 'access-token', token, scopes: token.scopes, credentialId: credentialIdOf({ bearer: value }) };
  }
  return undefined;
}

function accessTokenLevel(scopes: ReadonlySet<string>): RepoPermission {
  if (scopes.has('admin:repository:bitbucket')) return 'admin';
  if (scopes.has('write:repository:bitbucket')) return 'write';
  return 'read';
}

/** The access the caller has on `repo`, or undefined for none. */
export function permissionOn(state: BitbucketState, principal: Principal, repo: RepoRecord): RepoPermission | undefined {
  if (principal.kind === 'user') return state.effectivePermission(principal.user, repo);
  const t = principal.token;
  const bound = t.kind === 'repository' ? t.repo === repo : t.workspace === repo.workspace;
  return bound ? accessTokenLevel(t.scopes) : undefined;
}

export function describePrincipal(principal: Principal): string {
  return principal.kind === 'user' ? principal.user.email : `the ${principal.token.kind} access token`;
}
