/**
 * Mounts one API route with what every Bitbucket route does before its own work: authenticate,
 * refuse the wrong mechanism, spend the rate budget, check token scopes. Also the repository lookup
 * and permission check the repository routes share.
 */
import type { HttpReply, HttpRequest, Method, Router } from '../http';
import type { RepoPermission } from '../seed/seed-types';
import { authenticate, describePrincipal, permissionOn, type Principal } from './auth';
import { NO_CONTENT_TYPE, RATE_LIMIT_MESSAGE, WRONG_MECHANISM_MESSAGE, bbError, notVisible, unauthorized } from './errors';
import type { RateLimiter } from './rate-limit';
import { requirementFor, type RouteRequirement } from './route-table';
import { fullName, type Urls } from './serializers';
import { permissionAtLeast, type BitbucketState, type RepoRecord } from './state';

export interface ApiDeps {
  state: BitbucketState;
  limiter: RateLimiter;
  gitHost: string;
  /** Router base, `/2.0`. */
  base: string;
}

export interface ApiCall {
  req: HttpRequest;
  principal: Principal;
  urls: Urls;
  state: BitbucketState;
}

export type ApiHandler = (call: ApiCall) => HttpReply | Promise<HttpReply>;

export function mountRoute(router: Router, deps: ApiDeps, method: Method, template: string, handler: ApiHandler): void {
  const requirement = requirementFor(method, template);
  if (!requirement) throw new Error(`Route ${method} ${template} has no entry in BITBUCKET_ROUTES; add its scopes there first.`);
  router.on(method, template, async (req) => {
    const reply = await authorizedAnswer(deps, requirement, template, req, handler);
    // Bitbucket labels every answer with a content type, an empty 204 included.
    if (reply.status === 204 && !hasHeader(reply, 'content-type')) return { ...reply, headers: { ...reply.headers, 'content-type': NO_CONTENT_TYPE } };
    return reply;
  });
}

const hasHeader = (reply: HttpReply, name: string) => Object.keys(reply.headers ?? {}).some((h) => h.toLowerCase() === name);

async function authorizedAnswer(deps: ApiDeps, requirement: RouteRequirement, template: string, req: HttpRequest, handler: ApiHandler): Promise<HttpReply> {
  const principal = authenticate(deps.state, req.headers);
  if (!principal) return unauthorized();
  if (principal.kind === 'access-token' && !requirement.accessTokens) return bbError(403, WRONG_MECHANISM_MESSAGE);
  const limited = template.startsWith('/repositories');
  // Bitbucket counts a user's requests together, whichever of their API tokens sent them; an access token (and
  // Forge's app calls) has its own count.
  const counter = principal.kind === 'user' ? `user:${principal.user.accountId}` : principal.credentialId;
  if (limited && !deps.limiter.take(counter)) {
    // As Bitbucket answers: plain text, no Retry-After, sometimes after holding the request a while.
    await deps.limiter.hold();
    return { status: 429, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `${RATE_LIMIT_MESSAGE}.` };
  }
  const reply = await answer(deps, requirement.scopes, principal, req, handler);
  // API tokens get no rate-limit header at all; access tokens (and the app) get three, none saying what is left.
  if (!limited || principal.kind === 'user') return reply;
  return { ...reply, headers: { ...reply.headers, ...rateLimitHeaders(deps.limiter, counter) } };
}

/** The headers Bitbucket sends access tokens and Forge app calls: the limit, the resource, and whether under a fifth is left. */
function rateLimitHeaders(limiter: RateLimiter, counter: string): Record<string, string> {
  return {
    'x-ratelimit-limit': String(limiter.perHour),
    'x-ratelimit-resource': 'api.repositories',
    'x-ratelimit-nearlimit': String(limiter.remaining(counter) < limiter.perHour * 0.2),
  };
}

/** Scopes, then the route's own work. */
async function answer(deps: ApiDeps, scopes: string[], principal: Principal, req: HttpRequest, handler: ApiHandler): Promise<HttpReply> {
  const missing = scopes.filter((s) => !principal.scopes.has(s));
  if (missing.length > 0) {
    return bbError(403, 'Your credentials lack one or more required privilege scopes.', {
      detail: `This API needs the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}. Create an API token with ${missing.join(', ')} and use it instead.`,
      data: { required: scopes, missing },
    });
  }
  const urls: Urls = { api: `${req.url.origin}${deps.base}`, gitHost: deps.gitHost };
  return handler({ req, principal, urls, state: deps.state });
}

/** The repository named by `{workspace}`/`{repo_slug}` if the caller has `need` on it, else the error reply. */
export function loadRepo(call: ApiCall, need: RepoPermission): RepoRecord | HttpReply {
  const { workspace = '', repo_slug: slug = '' } = call.req.params;
  const ws = call.state.findWorkspace(workspace);
  const repo = ws && call.state.findRepo(ws, slug);
  // A repository the caller cannot see answers exactly as one that does not exist (404, since 2022),
  // on every route below it; 403 is only for a caller who sees it with too low a role.
  const have = repo && permissionOn(call.state, call.principal, repo);
  if (!repo || have === undefined) return notVisible();
  if (!permissionAtLeast(have, need)) {
    const what = need === 'admin' ? 'Administrator access' : need === 'write' ? 'Write access' : 'Access';
    return bbError(403, `${what} to ${fullName(repo)} is required.`, {
      detail: `${describePrincipal(call.principal)} has ${have} access to ${fullName(repo)}. Ask a workspace admin to grant ${need}.`,
    });
  }
  return repo;
}

/** Tells a finished reply apart from the value a helper was asked for. */
export function isReply(value: unknown): value is HttpReply {
  return typeof value === 'object' && value !== null && 'status' in value && typeof (value as HttpReply).status === 'number';
}

/** Parses a JSON object body, or answers 400. */
export function jsonBody(req: HttpRequest): Record<string, unknown> | HttpReply {
  if (req.body.trim() === '') return bbError(400, 'The request body is empty; send a JSON object.');
  try {
    const value: unknown = JSON.parse(req.body);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  return bbError(400, 'The request body is not a JSON object.', { detail: 'Send Content-Type: application/json with an object body.' });
}
