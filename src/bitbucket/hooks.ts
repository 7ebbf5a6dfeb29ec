/**
 * The hooks every Bitbucket transport can be given (`hooked(transport, ...hooks)` of src/http/hooks.ts):
 * what the app notes of each request and answer, one concern each.
 */
import type { RequestHooks } from '../http/hooks';
import { refusesCredentials } from './errors';
import { timedOut, TokenRequestHeldError, type TokenMeter } from './token-hour';
import type { BitbucketRequest, BitbucketResponse } from './transport';

export { hooked } from '../http/hooks';

export type BitbucketHooks = RequestHooks<BitbucketRequest, BitbucketResponse>;

/** A hook: `onRequest` before each request is sent. */
export function countRequests(onRequest: () => void): BitbucketHooks {
  return { before: onRequest };
}

/** A hook: `onRefused` when Bitbucket refuses the credentials themselves (401, or a kind of token it never takes). */
export function noteRefusal(onRefused: () => void): BitbucketHooks {
  return {
    after(_req, res) {
      if (refusesCredentials(res)) onRefused();
    },
  };
}

export interface MeterOptions {
  /** Requests counted before the meter is written (default 25). */
  flushEvery?: number;
  /**
   * The token's user, as the pages name them, where the caller's time limit is shorter than Bitbucket's
   * hold before a 429 (a resolver's): a request that gets no answer in time is then taken for that hold.
   * It counts as a 429, fails as TokenRequestHeldError naming this user and the time live work resumes,
   * and nothing more is sent through the meter (a retry included).
   */
  heldAs?: string;
}

/**
 * A hook: every request counted in the token user's hour (`TokenMeter`), refused before it is sent when
 * the hour has no room for it; a 429 starts the meter's wait, and rate-limit headers, where Bitbucket
 * sends them, are noted. A meter with many requests not yet written is written before the next one.
 */
export function meterRequests(meter: TokenMeter, options: MeterOptions = {}): BitbucketHooks {
  const { flushEvery = 25, heldAs } = options;
  return {
    async before() {
      const held = meter.heldUntil();
      if (held && heldAs !== undefined) throw new TokenRequestHeldError(heldAs, held);
      if (meter.unflushed() >= flushEvery) await meter.flush().catch(() => undefined);
      meter.take();
    },
    after(_req, res) {
      meter.noteAnswer(res.status, res.headers);
    },
    failed(_req, err) {
      // Thrown in place of the timeout: the more exact account of the same failure, which no retry repeats.
      if (heldAs !== undefined && timedOut(err)) throw new TokenRequestHeldError(heldAs, meter.noteHeld());
    },
  };
}
