/**
 * What each served route demands, copied from the official spec's `x-atlassian-oauth2-scopes` and
 * `x-atlassian-auth-types` (the conformance test checks this table against the spec). Routes whose
 * spec lists only `api-token` refuse Bearer access tokens, as deploy keys do in real Bitbucket.
 */
import type { Method } from '../http';

export type AuthType = 'api-token' | 'forge-oauth2';

export interface RouteRequirement {
  method: Method;
  /** Template relative to `/2.0`, exactly as the spec writes it. */
  template: string;
  /** Every one of these scopes must be on the API token. */
  scopes: string[];
  authTypes: AuthType[];
  /** Whether repository/workspace access tokens (Bearer) may call it. */
  accessTokens: boolean;
  /** Retired by Bitbucket (the change log entry named in its 410): every call answers 410. */
  retired?: true;
}

const REPO = '/repositories/{workspace}/{repo_slug}';
const both: AuthType[] = ['forge-oauth2', 'api-token'];
const apiTokenOnly: AuthType[] = ['api-token'];

const LIVE_ROUTES: RouteRequirement[] = [
  { method: 'GET', template: '/repositories/{workspace}', scopes: ['read:repository:bitbucket'], authTypes: both, accessTokens: true },
  { method: 'GET', template: REPO, scopes: ['read:repository:bitbucket'], authTypes: both, accessTokens: true },
  { method: 'GET', template: `${REPO}/refs/branches/{name}`, scopes: ['read:repository:bitbucket'], authTypes: both, accessTokens: true },
  { method: 'GET', template: `${REPO}/src/{commit}/{path}`, scopes: ['read:repository:bitbucket'], authTypes: both, accessTokens: true },
  { method: 'GET', template: `${REPO}/deploy-keys`, scopes: ['admin:repository:bitbucket'], authTypes: apiTokenOnly, accessTokens: false },
  {
    method: 'POST',
    template: `${REPO}/deploy-keys`,
    scopes: ['admin:repository:bitbucket', 'write:ssh-key:bitbucket'],
    authTypes: apiTokenOnly,
    accessTokens: false,
  },
  { method: 'GET', template: `${REPO}/deploy-keys/{key_id}`, scopes: ['admin:repository:bitbucket'], authTypes: apiTokenOnly, accessTokens: false },
  {
    method: 'PUT',
    template: `${REPO}/deploy-keys/{key_id}`,
    scopes: ['admin:repository:bitbucket', 'write:ssh-key:bitbucket'],
    authTypes: apiTokenOnly,
    accessTokens: false,
  },
  {
    method: 'DELETE',
    template: `${REPO}/deploy-keys/{key_id}`,
    scopes: ['admin:repository:bitbucket', 'delete:ssh-key:bitbucket'],
    authTypes: apiTokenOnly,
    accessTokens: false,
  },
  { method: 'GET', template: '/user', scopes: ['read:user:bitbucket'], authTypes: apiTokenOnly, accessTokens: false },
  // The spec allows forge-oauth2 on these, but they describe the calling user, which an access token is not.
  { method: 'GET', template: '/user/workspaces/{workspace}/permission', scopes: ['read:workspace:bitbucket'], authTypes: both, accessTokens: false },
  // Who is a member of the workspace, and with which role: the app asks it (as itself) before automatic
  // work acts for an account, which must still be allowed to connect.
  {
    method: 'GET',
    template: '/workspaces/{workspace}/permissions',
    scopes: ['read:workspace:bitbucket'],
    authTypes: both,
    accessTokens: true,
  },
  // What a workspace admin's token reads about another user: who may administer repositories.
  {
    method: 'GET',
    template: '/workspaces/{workspace}/permissions/repositories',
    scopes: ['read:repository:bitbucket'],
    authTypes: both,
    accessTokens: false,
  },
  {
    method: 'GET',
    template: '/workspaces/{workspace}/permissions/repositories/{repo_slug}',
    scopes: ['read:repository:bitbucket'],
    authTypes: both,
    accessTokens: false,
  },
  {
    method: 'GET',
    template: '/user/workspaces/{workspace}/permissions/repositories',
    scopes: ['read:repository:bitbucket'],
    authTypes: both,
    accessTokens: false,
  },
];

/**
 * Endpoints Bitbucket retired (CHANGE-2770, CHANGE-3022): still in the spec, answering 410 to every call,
 * so that a client still using one learns it at once.
 */
const RETIRED_ROUTES: RouteRequirement[] = [
  { method: 'GET', template: '/repositories', scopes: ['read:repository:bitbucket'], authTypes: apiTokenOnly, accessTokens: false, retired: true },
  { method: 'GET', template: '/workspaces', scopes: ['read:user:bitbucket', 'read:workspace:bitbucket'], authTypes: apiTokenOnly, accessTokens: false, retired: true },
  { method: 'GET', template: '/user/permissions/repositories', scopes: ['read:repository:bitbucket'], authTypes: apiTokenOnly, accessTokens: false, retired: true },
  { method: 'GET', template: '/user/permissions/workspaces', scopes: ['read:workspace:bitbucket', 'read:user:bitbucket'], authTypes: apiTokenOnly, accessTokens: false, retired: true },
];

export const BITBUCKET_ROUTES: RouteRequirement[] = [...LIVE_ROUTES, ...RETIRED_ROUTES];

export function requirementFor(method: Method, template: string): RouteRequirement | undefined {
  return BITBUCKET_ROUTES.find((r) => r.method === method && r.template === template);
}
