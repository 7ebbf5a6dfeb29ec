/**
 * The hooks every Bitbucket transport can be given (`hooked(transport, ...hooks)` of src/http/hooks.ts):
 * what the app notes of each request and answer, one concern each.
 */
import type { RequestHooks } from '../http/hooks';
import { refusesCredentials } from './errors';
import type { TokenMeter } from './token-hour';
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

/**
 * A hook: every request counted in the token user's hour (`TokenMeter`), refused before it is sent when
 * the hour has no room for it; a 429 starts the meter's wait, and rate-limit headers, where Bitbucket
 * sends them, are noted. A meter with many requests not yet written is written before the next one.
 */
export function meterRequests(meter: TokenMeter, flushEvery = 25): BitbucketHooks {
  return {
    async before() {
      if (meter.unflushed() >= flushEvery) await meter.flush().catch(() => undefined);
      meter.take();
    },
    after(_req, res) {
      meter.noteAnswer(res.status, res.headers);
    },
  };
}
