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
