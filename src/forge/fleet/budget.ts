/**
 * The stored token's hour, as fleet work (the audit, bulk actions) spends it. There is one count: the
 * token user's ledger in app storage (store/token-ledger.ts), which every job, check and push handling
 * adds to. Fleet work has nobody at the keyboard, so it spends as 'unattended' work: at most
 * UNATTENDED_SHARE of Bitbucket's 1,000 an hour, the rest kept for people's clicks. Bitbucket tells an API
 * token nothing of its hour (no rate-limit headers; a 429 without Retry-After), so a step plans its cost,
 * asks the ledger when that fits, and waits with delayed queue messages until then; after a 429 the
 * ledger's back-off (1, 2, 4, 8, then 15 minutes) says when to try again.
 */
import { countRequests, hooked, meterRequests, TOKEN_REQUESTS_PER_HOUR, UNATTENDED_SHARE, type BitbucketTransport, type TokenMeter } from '../../bitbucket/index';
import { openTokenMeter } from '../store/token-ledger';
import type { ForgePlatform } from '../platform/ports';
import type { BitbucketSecret } from '../store/records';

/** Stored-token requests fleet work may spend in an hour: the unattended share of the token user's hour. */
export const FLEET_SHARE = Math.floor(TOKEN_REQUESTS_PER_HOUR * UNATTENDED_SHARE);
export const HOUR_MS = 3_600_000;

/** Fleet work's meter on the token user's hour, read from the ledger now. */
export function fleetMeter(platform: ForgePlatform, secret: Pick<BitbucketSecret, 'email'>): Promise<TokenMeter> {
  return openTokenMeter(platform.store, platform.clock, secret, 'unattended');
}

/**
 * Null when `cost` more requests of fleet work fit in the ledger now; else when they will: the end of a
 * 429's back-off, or when enough minutes have left the rolling hour. A cost above the whole share is
 * waited for until the share is whole.
 */
export function fleetWait(meter: TokenMeter, cost: number, now: Date): Date | null {
  const needed = Math.min(cost, FLEET_SHARE);
  if (needed <= meter.remaining()) return null;
  return meter.fitsAt(needed) ?? new Date(now.getTime() + HOUR_MS);
}

/** The token's transport, every request counted in the ledger (refused before it is sent when the hour has no room). */
export class MeteredToken {
  readonly transport: BitbucketTransport;
  /** Requests sent (a request the ledger refused is not sent, and not counted). */
  sent = 0;

  constructor(
    inner: BitbucketTransport,
    readonly meter: TokenMeter,
  ) {
    this.transport = hooked(
      inner,
      meterRequests(meter),
      countRequests(() => this.sent++),
    );
  }

  /** Set by a 429 this work met: when the ledger's back-off ends. */
  limitedUntil(): Date | null {
    return this.meter.tooManyUntil();
  }
}
