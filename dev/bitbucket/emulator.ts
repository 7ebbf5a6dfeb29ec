/**
 * The Bitbucket Cloud API emulator: the routes this project calls, under `/2.0`, answering from a
 * seeded state of real git repositories, with Bitbucket's auth rules, pagination, rate limit, request
 * log and injectable faults (`emulator.faults` in-process, `/__faults` over HTTP).
 */
import { FaultInjector } from '../faults';
import { Router, serve, type RouteInfo } from '../http';
import { buildSeed } from '../seed/build-seed';
import type { Seed } from '../seed/seed-types';
import type { ApiDeps } from './api-route';
import { authenticate } from './auth';
import { bbError, retired } from './errors';
import { BITBUCKET_ROUTES } from './route-table';
import { RateLimiter } from './rate-limit';
import { mountAccessKeyRoutes } from './routes/access-key-routes';
import { mountRepositoryRoutes } from './routes/repository-routes';
import { mountSourceRoutes } from './routes/source-routes';
import { mountUserRoutes } from './routes/user-routes';
import { BitbucketState } from './state';

export const API_BASE = '/2.0';
export const DEFAULT_RATE_LIMIT_PER_HOUR = 1000;

export interface RequestLogEntry {
  method: string;
  /** Path and query as received, e.g. `/2.0/repositories/acme/ml-models?pagelen=5`. */
  path: string;
  status: number;
  /** Request body text ('' when none). */
  body: string;
  /** Who sent it: the credential's stable id (a hash, never the secret), as the rate limit tells credentials apart; undefined when none was recognised. */
  credential?: string;
  /** When it was answered, by the emulator's clock. */
  at: Date;
}

export interface BitbucketEmulatorOptions {
  /** A seed to build (removed again on close), or a state built earlier and shared with other stand-ins. */
  seed: Seed | BitbucketState;
  /** Budget per user (or access token) per rolling hour on `/2.0/repositories/*`; default 1,000. */
  rateLimitPerHour?: number;
  /** Milliseconds to hold a request before answering 429, as Bitbucket may; default 0. */
  rateLimitHoldMs?: number;
  /** Clock for the rate limit and, when the seed is built here, for key timestamps and pushes. */
  clock?: () => Date;
  /** Host in clone links (`git@<host>:ws/repo.git`); default `bitbucket.org`. */
  gitHost?: string;
}

export interface BitbucketEmulator {
  /** Base URL including `/2.0`, e.g. `http://127.0.0.1:41234/2.0`. */
  url: string;
  /** Origin without `/2.0`, where `/__faults` lives. */
  origin: string;
  state: BitbucketState;
  faults: FaultInjector;
  /** Every request answered, oldest first; `requests.length = 0` clears it. */
  requests: RequestLogEntry[];
  routes(): RouteInfo[];
  /**
   * What is left of a user's hour on `/2.0/repositories/*`, spent at `at` (default now) as their other
   * tools would spend it: their requests are answered 429 (held first, with `rateLimitHoldMs`) until an
   * hour after `at`.
   */
  spendHour(accountId: string, at?: Date): void;
  close(): Promise<void>;
}

export function createBitbucketRouter(deps: Omit<ApiDeps, 'base'>): Router {
  const router = new Router(API_BASE);
  const full: ApiDeps = { ...deps, base: API_BASE };
  mountRepositoryRoutes(router, full);
  mountSourceRoutes(router, full);
  mountAccessKeyRoutes(router, full);
  mountUserRoutes(router, full);
  // Retired endpoints answer 410 to every call, credentials or not: the endpoint is gone for everyone.
  for (const r of BITBUCKET_ROUTES) if (r.retired) router.on(r.method, r.template, () => retired());
  return router;
}

export async function startBitbucketEmulator(options: BitbucketEmulatorOptions): Promise<BitbucketEmulator> {
  const clock = options.clock ?? (() => new Date());
  const built = options.seed instanceof BitbucketState ? undefined : await buildSeed(options.seed, { clock });
  const state = built ? built.state : (options.seed as BitbucketState);
  const limiter = new RateLimiter(options.rateLimitPerHour ?? DEFAULT_RATE_LIMIT_PER_HOUR, clock, options.rateLimitHoldMs ?? 0);
  const router = createBitbucketRouter({ state, limiter, gitHost: options.gitHost ?? 'bitbucket.org' });
  const faults = new FaultInjector();
  const requests: RequestLogEntry[] = [];
  const running = await serve([router], {
    faults,
    before: (req) => faults.control(req),
    notFound: (req) => bbError(404, `No API resource at ${req.path}`, { detail: 'Check the method and path against the Bitbucket Cloud REST 2.0 reference.' }),
    onRequest: (entry, headers) => requests.push({ ...entry, credential: authenticate(state, headers)?.credentialId, at: clock() }),
  }).catch(async (err: unknown) => {
    await built?.cleanup();
    throw err;
  });
  return {
    url: `${running.url}${API_BASE}`,
    origin: running.url,
    state,
    faults,
    requests,
    routes: () => router.list(),
    spendHour: (accountId, at) => limiter.spend(`user:${accountId}`, at),
    close: async () => {
      // A request held before its 429 is answered now, so closing does not wait out the hold.
      limiter.releaseHolds();
      await running.close();
      await built?.cleanup();
    },
  };
}
