/**
 * The stored token's hour, as the app counts it. Bitbucket allows an Atlassian API token's user about
 * 1,000 requests an hour on `/2.0/repositories/*`, over a rolling hour, and tells that user nothing:
 * no rate-limit header on an API token's answers, and a 429 without `Retry-After`. So the count is ours:
 * every request made with the token, by every path, goes into one ledger per token user, in minutes.
 *
 * Two kinds of work spend it. A person's click (`interactive`) may use the whole hour; work with nobody
 * at the keyboard (`unattended`: scheduled checks, push handling, the audit, bulk actions) at most
 * `UNATTENDED_SHARE` of it, so a person always finds room. The stores (app storage, the CLI's state
 * folder) keep the ledger; this module does its sums and counts a piece of work's requests.
 */
import { BitbucketNetworkError, BitbucketRateLimitError } from './errors';

/** Bitbucket's documented hourly limit per user on repository data. */
export const TOKEN_REQUESTS_PER_HOUR = 1000;
/** The share of the hour work without a person may spend: the rest is kept for people's clicks. */
export const UNATTENDED_SHARE = 0.6;
/** After a 429, unattended work waits these many minutes, one step longer for each 429 in a row. */
export const BACKOFF_MINUTES = [1, 2, 4, 8, 15] as const;

const MINUTE_MS = 60_000;
const HOUR_MINUTES = 60;

export type Spender = 'interactive' | 'unattended';

/** Requests spent in one minute, by kind. */
export interface MinuteSpend {
  i: number;
  u: number;
}

/** What one token user's hour holds: kept small (at most 60 minutes and a few fields). */
export interface TokenHour {
  /** Spent requests by the minute they were sent in (epoch minutes as keys). */
  minutes: Record<string, MinuteSpend>;
  /** Set by Bitbucket's 429: nothing unattended before this time (ISO). */
  backoffUntil?: string | null;
  /** 429s in a row, for the length of the next wait. */
  backoffStep?: number;
  /** The last time any answer carried rate-limit headers (as the app), for the set-up check. */
  headersSeenAt?: string | null;
}

export interface HourSpent {
  interactive: number;
  unattended: number;
  total: number;
}

export function emptyHour(): TokenHour {
  return { minutes: {}, backoffUntil: null, backoffStep: 0 };
}

function minuteOf(at: Date): number {
  return Math.floor(at.getTime() / MINUTE_MS);
}

/** The minutes still inside the hour that ends at `now`, oldest first. */
function liveMinutes(hour: TokenHour, now: Date): [number, MinuteSpend][] {
  const current = minuteOf(now);
  return Object.entries(hour.minutes)
    .map(([m, spend]) => [Number(m), spend] as [number, MinuteSpend])
    .filter(([m]) => current - m < HOUR_MINUTES && m <= current)
    .sort((a, b) => a[0] - b[0]);
}

export function spentInHour(hour: TokenHour, now: Date): HourSpent {
  let interactive = 0;
  let unattended = 0;
  for (const [, s] of liveMinutes(hour, now)) {
    interactive += s.i;
    unattended += s.u;
  }
  return { interactive, unattended, total: interactive + unattended };
}

/** Requests `kind` may still send in the hour ending now (0 while a 429's wait lasts, for unattended work). */
export function allowance(hour: TokenHour, now: Date, kind: Spender, limit = TOKEN_REQUESTS_PER_HOUR): number {
  const spent = spentInHour(hour, now);
  const all = Math.max(0, limit - spent.total);
  if (kind === 'interactive') return all;
  if (backoffUntil(hour, now)) return 0;
  return Math.max(0, Math.min(all, Math.floor(limit * UNATTENDED_SHARE) - spent.unattended));
}

/** When a 429's wait ends, while it lasts. */
export function backoffUntil(hour: TokenHour, now: Date): Date | null {
  const until = hour.backoffUntil ? Date.parse(hour.backoffUntil) : Number.NaN;
  return Number.isFinite(until) && until > now.getTime() ? new Date(until) : null;
}

/**
 * The earliest time `cost` requests of `kind` fit, as minutes leave the rolling hour: `now` when they fit
 * already, null when they never can (more than the kind's whole share).
 */
export function fitsAt(hour: TokenHour, now: Date, kind: Spender, cost: number, limit = TOKEN_REQUESTS_PER_HOUR): Date | null {
  const share = kind === 'interactive' ? limit : Math.floor(limit * UNATTENDED_SHARE);
  if (cost > share) return null;
  const waitFor = kind === 'unattended' ? backoffUntil(hour, now) : null;
  const start = waitFor ?? now;
  if (cost <= allowance(hour, start, kind, limit)) return start;
  // Step through the minutes as they age out of the hour: the first at which the cost fits.
  for (const [m] of liveMinutes(hour, start)) {
    const at = new Date((m + HOUR_MINUTES) * MINUTE_MS);
    if (at <= start) continue;
    if (cost <= allowance(hour, at, kind, limit)) return at;
  }
  return new Date(start.getTime() + HOUR_MINUTES * MINUTE_MS);
}

/** `hour` with `spent` more requests of `kind` at `now`, minutes older than the hour dropped. */
export function addSpend(hour: TokenHour, now: Date, spent: Partial<Record<Spender, number>>): TokenHour {
  const minutes: Record<string, MinuteSpend> = {};
  for (const [m, s] of liveMinutes(hour, now)) minutes[String(m)] = { ...s };
  const key = String(minuteOf(now));
  const here = minutes[key] ?? { i: 0, u: 0 };
  minutes[key] = { i: here.i + (spent.interactive ?? 0), u: here.u + (spent.unattended ?? 0) };
  return { ...hour, minutes };
}

/**
 * `hour` after Bitbucket answered 429: Bitbucket says nothing of when it lets the user in again, and its
 * hour rolls, so unattended work waits 1, 2, 4, 8, then 15 minutes (each 429 in a row one step longer).
 */
export function noteTooMany(hour: TokenHour, now: Date): TokenHour {
  // Inside a wait, a 429 (another writer's request already on its way) does not lengthen it; a 429 more
  // than an hour after the last wait ended starts from the shortest again.
  if (backoffUntil(hour, now)) return hour;
  const lastEnded = hour.backoffUntil ? Date.parse(hour.backoffUntil) : Number.NaN;
  const previous = Number.isFinite(lastEnded) && now.getTime() - lastEnded < HOUR_MINUTES * MINUTE_MS ? (hour.backoffStep ?? 0) : 0;
  const step = Math.min(previous + 1, BACKOFF_MINUTES.length);
  const minutes = BACKOFF_MINUTES[Math.max(0, step - 1)] ?? 15;
  return { ...hour, backoffStep: step, backoffUntil: new Date(now.getTime() + minutes * MINUTE_MS).toISOString() };
}

/** Two ledgers' spend summed minute by minute (what a writer adds to what is stored), the later wait kept. */
export function mergeHours(a: TokenHour, b: TokenHour, now: Date): TokenHour {
  let merged: TokenHour = { ...a, minutes: {} };
  for (const [m, s] of liveMinutes(a, now)) merged.minutes[String(m)] = { ...s };
  for (const [m, s] of liveMinutes(b, now)) {
    const here = merged.minutes[String(m)] ?? { i: 0, u: 0 };
    merged.minutes[String(m)] = { i: here.i + s.i, u: here.u + s.u };
  }
  const untilA = a.backoffUntil ? Date.parse(a.backoffUntil) : 0;
  const untilB = b.backoffUntil ? Date.parse(b.backoffUntil) : 0;
  if (untilB > untilA) merged = { ...merged, backoffUntil: b.backoffUntil ?? null, backoffStep: b.backoffStep ?? 0 };
  if ((b.headersSeenAt ?? '') > (a.headersSeenAt ?? '')) merged.headersSeenAt = b.headersSeenAt ?? null;
  return merged;
}

/** "about 14:05 UTC": when something fits, as a person reads it. */
export function aboutTime(at: Date): string {
  return `about ${at.toISOString().slice(11, 16)} UTC`;
}

/**
 * The token's hour is spent for this kind of work, by the app's own count or by Bitbucket's 429: nothing
 * more is sent with the token until `until` (null: never, for a cost above the kind's whole share).
 */
export class TokenHourSpentError extends BitbucketRateLimitError {
  override readonly name: string = 'TokenHourSpentError';
  constructor(
    readonly until: Date | null,
    readonly kind: Spender,
    readonly spent: HourSpent,
    readonly tooMany = false,
  ) {
    const why = tooMany
      ? 'Bitbucket answered 429 (too many requests) for the stored API token'
      : `the stored Bitbucket API token has spent ${spent.total} of its ${TOKEN_REQUESTS_PER_HOUR} requests this hour` +
        (kind === 'unattended' ? ` (${spent.unattended} by automatic work, which may use ${Math.floor(TOKEN_REQUESTS_PER_HOUR * UNATTENDED_SHARE)})` : '');
    super(`Not sent: ${why}. ${until ? `Live work resumes ${aboutTime(until)}.` : 'This is more than one hour of requests allows.'}`, {
      status: 429,
      code: 'rate_limited',
      retryable: false,
      ...(until ? { retryAfterSeconds: Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000)) } : {}),
    });
  }
}

/**
 * Bitbucket held a request made with the token past the caller's time limit. It holds a spent hour's
 * requests about 30 s before answering 429, longer than a page's call may wait, so the hold is taken
 * for that 429: `until` is when live work may send again.
 */
export class TokenRequestHeldError extends BitbucketRateLimitError {
  override readonly name: string = 'TokenRequestHeldError';
  constructor(
    /** The token's user, as the pages name them. */
    readonly user: string,
    readonly until: Date,
  ) {
    super(
      `Bitbucket is holding requests made with ${user}'s API token, which is what it does when that user's hour of requests is spent. ` +
        `Live work resumes ${aboutTime(until)}.`,
      { status: 429, code: 'rate_limited', retryable: false },
    );
  }
}

/** Whether a request got no answer within its time limit (rather than failing to connect, or being refused). */
export function timedOut(err: unknown): boolean {
  return err instanceof BitbucketNetworkError && err.networkCode === 'ETIMEDOUT';
}

/** Where one token user's hour is kept: the app's storage, the CLI's state folder, memory in tests. */
export interface TokenHourStore {
  read(): Promise<TokenHour | undefined>;
  /** Adds what a writer spent to what is stored and returns the sum; throws when it cannot write now. */
  add(added: TokenHour, now: Date): Promise<TokenHour>;
}

/**
 * One piece of work's view of its token user's hour: read once when the work starts, counted in memory
 * request by request, written once per step (`flush`), so the storage sees a handful of writes however
 * many requests a step sends. `check()` refuses a request the hour has no room for; `noteAnswer()`
 * records a 429 (a wait for unattended work) and whether rate-limit headers came.
 */
export class TokenMeter {
  private stored: TokenHour = emptyHour();
  private added: TokenHour = emptyHour();
  private sentSinceFlush = 0;
  private heldUntilAt: Date | null = null;

  constructor(
    private readonly store: TokenHourStore,
    private readonly clock: () => Date,
    readonly kind: Spender,
    readonly limit = TOKEN_REQUESTS_PER_HOUR,
  ) {}

  /** Reads the stored hour: call before the work's first request. */
  async open(): Promise<this> {
    this.stored = (await this.store.read()) ?? emptyHour();
    return this;
  }

  /** The hour as this work sees it: what was stored when read, and what it sent since. */
  hour(): TokenHour {
    return mergeHours(this.stored, this.added, this.clock());
  }

  spent(): HourSpent {
    return spentInHour(this.hour(), this.clock());
  }

  /** Requests this work's kind may still send in the hour. */
  remaining(): number {
    return allowance(this.hour(), this.clock(), this.kind, this.limit);
  }

  /** When `cost` requests of this work's kind fit (now, when they do; null: never). */
  fitsAt(cost: number): Date | null {
    return fitsAt(this.hour(), this.clock(), this.kind, cost, this.limit);
  }

  /** Before a request: throws TokenHourSpentError when the hour has no room for it; else counts it. */
  take(): void {
    const now = this.clock();
    const hour = this.hour();
    if (allowance(hour, now, this.kind, this.limit) < 1) {
      const until = backoffUntil(hour, now);
      throw new TokenHourSpentError(this.kind === 'unattended' && until ? until : fitsAt(hour, now, this.kind, 1, this.limit), this.kind, spentInHour(hour, now), Boolean(until));
    }
    this.added = addSpend(this.added, now, { [this.kind]: 1 });
    this.sentSinceFlush++;
  }

  /** After an answer: a 429 starts (or keeps) a wait; rate-limit headers, where Bitbucket sends them, are noted. */
  noteAnswer(status: number, headers: Record<string, string>): void {
    const now = this.clock();
    if (status === 429) {
      const next = noteTooMany(this.hour(), now);
      this.added = { ...this.added, backoffUntil: next.backoffUntil ?? null, backoffStep: next.backoffStep ?? 0 };
    }
    if (headers['x-ratelimit-limit'] !== undefined || headers['x-ratelimit-nearlimit'] !== undefined) this.added = { ...this.added, headersSeenAt: now.toISOString() };
  }

  /**
   * After a request Bitbucket held past the caller's time limit: counted as the 429 it ends in (the same
   * wait). Returns when live work may send again: the later of that wait's end and the hour's room for
   * one more request by this meter's count.
   */
  noteHeld(): Date {
    this.noteAnswer(429, {});
    const now = this.clock();
    const hour = this.hour();
    const wait = backoffUntil(hour, now) ?? now;
    const room = fitsAt(hour, now, 'interactive', 1, this.limit) ?? wait;
    this.heldUntilAt = room > wait ? room : wait;
    return this.heldUntilAt;
  }

  /** When live work may send again, once this work met a held request (null: it met none). */
  heldUntil(): Date | null {
    return this.heldUntilAt;
  }

  /** Requests counted since the last flush. */
  unflushed(): number {
    return this.sentSinceFlush;
  }

  /** Whether a 429 was met during this work (the wait it started, when so). */
  tooManyUntil(): Date | null {
    return backoffUntil(this.added, this.clock());
  }

  /**
   * Writes what this work sent since the last flush into the stored hour. A store that cannot write now
   * keeps it for the next flush: the count is never dropped, only written later.
   */
  async flush(): Promise<void> {
    if (this.sentSinceFlush === 0 && !this.added.backoffUntil && !this.added.headersSeenAt) return;
    const pending = this.added;
    const count = this.sentSinceFlush;
    // Requests sent while the write is on its way count towards the next flush.
    this.added = emptyHour();
    this.sentSinceFlush = 0;
    try {
      this.stored = await this.store.add(pending, this.clock());
    } catch (err) {
      this.added = mergeHours(pending, this.added, this.clock());
      this.sentSinceFlush += count;
      throw err;
    }
  }
}
