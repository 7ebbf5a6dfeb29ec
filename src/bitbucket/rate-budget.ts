/**
 * What Bitbucket says is left of the credentials' hourly request budget, learnt from its answers.
 * Bitbucket documents `X-RateLimit-Limit` and `X-RateLimit-NearLimit` (true once less than a fifth of
 * the limit is left) on rate-limited resources; `X-RateLimit-Remaining` is read when present. Which of
 * them an Atlassian API token's answers carry is unconfirmed: without any, the budget is unknown.
 */
import type { BitbucketHooks } from './hooks';
import type { BitbucketRequest, BitbucketResponse } from './transport';

const NEAR_LIMIT_SHARE = 0.2;

/** A hook on the transport: notes the rate-limit headers of every answer. */
export class RateBudget implements BitbucketHooks {
  private left: number | undefined;

  after(_req: BitbucketRequest, res: BitbucketResponse): void {
    this.note(res.headers);
  }

  /** Requests left, or undefined when Bitbucket has not said. */
  remaining(): number | undefined {
    return this.left;
  }

  private note(headers: Record<string, string>): void {
    const remaining = Number.parseInt(headers['x-ratelimit-remaining'] ?? '', 10);
    const limit = Number.parseInt(headers['x-ratelimit-limit'] ?? '', 10);
    if (Number.isFinite(remaining)) this.left = Math.max(0, remaining);
    else if (headers['x-ratelimit-nearlimit'] === 'true' && Number.isFinite(limit)) this.left = Math.floor(limit * NEAR_LIMIT_SHARE);
    else if (this.left !== undefined) this.left = Math.max(0, this.left - 1);
  }
}
