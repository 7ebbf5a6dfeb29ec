/**
 * What the pages say about the stored token's hour: read from the app's ledger (one storage read, no
 * request to Bitbucket), so a page can say it even when the hour is spent. And the one way a resolver
 * sends requests with a token: counted in that hour, within the resolver's time limits.
 */
import {
  aboutTime,
  allowance,
  backoffUntil,
  hooked,
  meterRequests,
  spentInHour,
  TOKEN_REQUESTS_PER_HOUR,
  TokenRequestHeldError,
  type BitbucketTransport,
  type TokenHour,
} from '../../bitbucket/index';
import type { TokenHourView } from '../contract';
import { KvTokenHourStore, openTokenMeter, tokenAccount } from '../store/token-ledger';
import { RESOLVER_LIMITS, type ForgePlatform } from '../platform/ports';
import type { BitbucketSecret, WorkspaceSummary } from '../store/records';

/** The token's user as the pages name them: the account's name when the token check read it, else the email. */
export function tokenUser(secret: Pick<BitbucketSecret, 'email'>, summary: WorkspaceSummary | undefined): string {
  const stored = summary?.bitbucket;
  return stored?.accountName && stored.email.trim().toLowerCase() === secret.email.trim().toLowerCase() ? stored.accountName : secret.email;
}

/**
 * A resolver's work with a Bitbucket API token (`user` names its account): `work` gets the token's
 * transport, within the resolver's time limits, every request counted in the token user's hour (read
 * before, written after, whatever the outcome), so a page's action counts like a job's.
 *
 * Bitbucket may hold a request about 30 s before answering 429 when the user's hour is spent, longer
 * than a resolver may wait. A request that gets no answer in time is taken for that hold: counted as a
 * 429 (the same wait for automatic work, and the pages' notice), nothing more is sent, and the resolver
 * answers with TokenRequestHeldError (whose token, and when live work resumes), whatever the work made
 * of the request it lost.
 */
export async function withTokenHour<T>(
  platform: ForgePlatform,
  secret: BitbucketSecret,
  user: string,
  work: (token: BitbucketTransport) => Promise<T>,
): Promise<T> {
  const meter = await openTokenMeter(platform.store, platform.clock, secret, 'interactive');
  const token = hooked(platform.makeBitbucketWithToken({ email: secret.email, token: secret.token }, RESOLVER_LIMITS), meterRequests(meter, { heldAs: user }));
  const held = () => {
    const until = meter.heldUntil();
    return until ? new TokenRequestHeldError(user, until) : undefined;
  };
  let result: T;
  try {
    result = await work(token);
  } catch (err) {
    throw err instanceof TokenRequestHeldError ? err : (held() ?? err);
  } finally {
    await meter.flush().catch(() => undefined);
  }
  const lost = held();
  if (lost) throw lost;
  return result;
}

export async function tokenHourView(platform: ForgePlatform, secret: Pick<BitbucketSecret, 'email'>): Promise<TokenHourView> {
  const now = platform.clock.now();
  const hour: TokenHour = (await new KvTokenHourStore(platform.store, platform.clock, tokenAccount(secret)).read()) ?? { minutes: {} };
  const spent = spentInHour(hour, now);
  const waiting = backoffUntil(hour, now);
  const left = allowance(hour, now, 'interactive');
  const firstOut = Object.keys(hour.minutes).map(Number).filter((m) => now.getTime() / 60_000 - m < 60).sort((a, b) => a - b)[0];
  return {
    spent: spent.total,
    unattended: spent.unattended,
    limit: TOKEN_REQUESTS_PER_HOUR,
    // A spent hour frees requests as its oldest minute leaves it.
    ...(left === 0 && firstOut !== undefined ? { resumesAt: new Date((firstOut + 60) * 60_000).toISOString() } : {}),
    ...(waiting ? { automaticWorkWaitsUntil: waiting.toISOString() } : {}),
  };
}

/** The one notice a page shows when live work with the token waits: whose token, and until when. */
export function tokenHourNotice(view: TokenHourView, user: string): { message: string; fix: string } | undefined {
  if (view.resumesAt) {
    return {
      message: `The stored Bitbucket API token (${user}) has used its hour: ${view.spent} of its ${view.limit} requests, by the app's count.`,
      fix: `Actions that need the token can start again ${aboutTime(new Date(view.resumesAt))}. This page shows what the app stored, and the token forms work as usual.`,
    };
  }
  if (view.automaticWorkWaitsUntil) {
    return {
      message: `Bitbucket turned the stored API token (${user}) away: it answered "too many requests", or held a request as it does when that user's hour is spent.`,
      fix: `Checks, push handling and bulk work wait until ${aboutTime(new Date(view.automaticWorkWaitsUntil))}; what you start yourself is tried now. This page shows what the app stored.`,
    };
  }
  return undefined;
}
