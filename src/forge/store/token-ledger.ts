/**
 * The stored token's hour in the app's storage: one record per token user (the account behind the
 * stored API token, by a digest of its email), which every path that sends a request with the token
 * reads when it starts and adds to once per step. Writers take a short lock around read, add and write,
 * so two jobs flushing at once both count; a writer that cannot get the lock keeps its count for its
 * next flush. The record holds at most the last 60 minutes: a few KiB, far inside Forge's 240 KiB.
 */
import { createHash } from 'node:crypto';
import { emptyHour, mergeHours, TokenMeter, type Spender, type TokenHour, type TokenHourStore } from '../../bitbucket/index';
import type { Clock } from '../../connect/index';
import { keys } from './keys';
import { KvLock } from './lock';
import type { RecordStore } from '../platform/ports';
import type { BitbucketSecret } from './records';

/** Kept a little over the hour it counts, so a quiet token user's record goes by itself. */
const TTL_SECONDS = 2 * 3600;

/** The ledger's name for a token user: the same for every workspace the one account's tokens serve. */
export function tokenAccount(secret: Pick<BitbucketSecret, 'email'>): string {
  return createHash('sha256').update(secret.email.trim().toLowerCase()).digest('hex').slice(0, 32);
}

export class KvTokenHourStore implements TokenHourStore {
  private readonly key: string;

  constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock,
    account: string,
  ) {
    this.key = keys.tokenHour(account);
  }

  read(): Promise<TokenHour | undefined> {
    return this.store.get<TokenHour>(this.key);
  }

  add(added: TokenHour, now: Date): Promise<TokenHour> {
    // A brief lock: the read-add-write takes three storage calls, and a writer that waits longer keeps its count for later.
    const lock = new KvLock(this.store, this.clock, `tokenhour-${now.getTime()}-${Math.random().toString(36).slice(2)}`, { leaseMs: 10_000, waitMs: 3_000, pollMs: 100 });
    return lock.withLock(this.key, async () => {
      const sum = mergeHours((await this.store.get<TokenHour>(this.key)) ?? emptyHour(), added, now);
      await this.store.set(this.key, sum, { ttlSeconds: TTL_SECONDS });
      return sum;
    });
  }
}

/** A piece of work's meter on the stored token's hour, read from storage. */
export function openTokenMeter(store: RecordStore, clock: Clock, secret: Pick<BitbucketSecret, 'email'>, kind: Spender): Promise<TokenMeter> {
  return new TokenMeter(new KvTokenHourStore(store, clock, tokenAccount(secret)), () => clock.now(), kind).open();
}
