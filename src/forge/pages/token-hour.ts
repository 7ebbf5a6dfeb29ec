/**
 * What the pages say about the stored token's hour: read from the app's ledger (one storage read, no
 * request to Bitbucket), so a page can say it even when the hour is spent.
 */
import { aboutTime, allowance, backoffUntil, spentInHour, TOKEN_REQUESTS_PER_HOUR, type TokenHour } from '../../bitbucket/index';
import type { TokenHourView } from '../contract';
import { KvTokenHourStore, tokenAccount } from '../store/token-ledger';
import type { ForgePlatform } from '../platform/ports';
import type { BitbucketSecret } from '../store/records';

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
      message: `Bitbucket answered the stored API token (${user}) with "too many requests".`,
      fix: `Checks, push handling and bulk work wait until ${aboutTime(new Date(view.automaticWorkWaitsUntil))}; what you start yourself is tried now. This page shows what the app stored.`,
    };
  }
  return undefined;
}
