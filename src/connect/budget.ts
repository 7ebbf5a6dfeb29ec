/**
 * The request budget. The stored Bitbucket credentials allow about 1,000 requests an hour on
 * `/2.0/repositories/*`; a workflow whose plan needs more than is left is refused before it starts,
 * rather than cut off by a 429 half way with keys on some repositories and not others.
 */
import type { RequestBudget } from './ports';
import { Refusal } from './refusal';

/** Bitbucket's documented hourly limit per user on repository data: no plan above it can ever fit. */
export const HOURLY_REQUEST_LIMIT = 1000;

export class RequestBudgetError extends Refusal {
  constructor(
    readonly needed: number,
    readonly remaining: number,
    /** When the plan fits, when known. */
    readonly fitsAt: Date | null = null,
  ) {
    super(
      `Nothing was changed: this needs about ${needed} more Bitbucket requests, but the API token has ${remaining} left this hour ` +
        `(Bitbucket allows about ${HOURLY_REQUEST_LIMIT} an hour per user).`,
      fitsAt
        ? `It fits again at about ${fitsAt.toISOString().slice(11, 16)} UTC: try then, or connect this repository only (without submodules) to need fewer.`
        : 'Try again later, or connect this repository only (without submodules) to need fewer.',
    );
    this.name = 'RequestBudgetError';
  }
}

/** Throws RequestBudgetError when `needed` requests do not fit in what is left (or in an hour, when that is unknown). */
export function checkBudget(budget: RequestBudget | undefined, needed: number): void {
  const remaining = budget?.remaining() ?? HOURLY_REQUEST_LIMIT;
  if (needed > remaining) throw new RequestBudgetError(needed, remaining, budget?.fitsAt?.(needed) ?? null);
}
