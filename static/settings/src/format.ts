// Small display helpers (no date library: the bundle stays lean).

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
}

export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : 'none';
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** A key's age as a person says it: "today" for a key made today, else in days. */
export function keyAge(days: number): string {
  return days <= 0 ? 'today' : plural(days, 'day');
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
];

/**
 * How long ago or how far ahead a moment is, as a person says it ("2 hours ago", "in 3 days",
 * "just now"), in English like every other sentence on these pages.
 */
export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return 'never';
  const at = new Date(iso).getTime();
  if (Number.isNaN(at)) return iso;
  const diff = at - now;
  const size = Math.abs(diff);
  for (const [unit, ms] of UNITS) {
    if (size >= ms) {
      const count = Math.round(size / ms);
      const words = plural(count, unit);
      return diff < 0 ? `${words} ago` : `in ${words}`;
    }
  }
  return diff < 0 ? 'just now' : 'in a minute';
}

/** Whole days as a person counts them to a date: "today", "tomorrow", "in 206 days", "3 days ago". */
export function daysFromToday(days: number): string {
  if (days === 0) return 'today';
  if (days === 1) return 'tomorrow';
  if (days === -1) return 'yesterday';
  return days > 0 ? `in ${plural(days, 'day')}` : `${plural(-days, 'day')} ago`;
}

/** A key's fingerprint as a table has room for it: its kind, the first and last four characters. */
export function shortFingerprint(fingerprint: string): string {
  const colon = fingerprint.indexOf(':');
  const kind = colon >= 0 ? fingerprint.slice(0, colon + 1) : '';
  const body = fingerprint.slice(kind.length);
  return body.length <= 12 ? fingerprint : `${kind}${body.slice(0, 4)}\u2026${body.slice(-4)}`;
}
