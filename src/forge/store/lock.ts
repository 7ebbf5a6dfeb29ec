/**
 * The engine's Lock over the record store's create-if-absent. A holder that died (Forge ends a queue
 * function after 900 s) leaves a lock that expires, so one lost invocation cannot block a repository.
 * A lock held under the holder's own name is taken back at once: the holder is a job, and a job runs
 * in one delivery at a time (backend.ts), so that lock was left by its own run that died.
 */
import type { Clock, Lock } from '../../connect/index';
import { keys } from './keys';
import type { RecordStore } from '../platform/ports';

export class LockBusyError extends Error {
  override readonly name = 'LockBusyError';
  constructor(readonly lockName: string) {
    super(`Another run is still working on this repository (${lockName}). Wait for it to finish, then try again.`);
  }
}

interface LockRecord {
  holder: string;
  expiresAt: string;
}

export interface KvLockOptions {
  /** How long a lock lives without its holder (default 900 s, the queue function limit). */
  leaseMs?: number;
  /** How long to wait for a busy lock before giving up (default 30 s). */
  waitMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class KvLock implements Lock {
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock,
    private readonly holder: string,
    options: KvLockOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 900_000;
    this.waitMs = options.waitMs ?? 30_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.sleep = options.sleep ?? realSleep;
  }

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const key = keys.lock(name);
    await this.acquire(key, name);
    try {
      return await fn();
    } finally {
      const held = await this.store.get<LockRecord>(key);
      if (held?.holder === this.holder) await this.store.delete(key);
    }
  }

  private async acquire(key: string, name: string): Promise<void> {
    let waited = 0;
    for (;;) {
      const now = this.clock.now().getTime();
      const record: LockRecord = { holder: this.holder, expiresAt: new Date(now + this.leaseMs).toISOString() };
      if (await this.store.create(key, record, { ttlSeconds: Math.ceil(this.leaseMs / 1000) })) return;
      const held = await this.store.get<LockRecord>(key);
      if (!held || Date.parse(held.expiresAt) <= now || held.holder === this.holder) {
        // Expired (or vanished in between): clear it and race for it again.
        if (held) await this.store.delete(key);
        continue;
      }
      if (waited >= this.waitMs) throw new LockBusyError(name);
      await this.sleep(this.pollMs);
      waited += this.pollMs;
    }
  }
}
