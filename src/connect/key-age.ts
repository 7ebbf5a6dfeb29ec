/**
 * How old a key is, and when that calls for a rotation: one definition for the engine, the CLI, the
 * backend and the pages (which read it through the contract, so it imports nothing).
 */

/** Key age thresholds: a warning suggests rotating, an alert says rotate now. */
export const KEY_AGE_WARNING_DAYS = 180;
export const KEY_AGE_ALERT_DAYS = 365;

const DAY_MS = 86_400_000;

/**
 * Whole days from `iso` to `now`; null when `iso` does not say a time. A time ahead of `now` (a clock
 * elsewhere running ahead) is today's, never a negative age.
 */
export function ageDays(iso: string | null | undefined, now: Date): number | null {
  const at = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(at) ? null : Math.max(0, Math.floor((now.getTime() - at) / DAY_MS));
}

export type KeyAgeLevel = 'ok' | 'warning' | 'alert';

export function keyAgeLevel(days: number): KeyAgeLevel {
  if (days >= KEY_AGE_ALERT_DAYS) return 'alert';
  if (days >= KEY_AGE_WARNING_DAYS) return 'warning';
  return 'ok';
}
