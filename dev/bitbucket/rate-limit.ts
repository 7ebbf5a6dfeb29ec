/**
 * A rolling one-hour request budget per user (or per access token), like Bitbucket's limit on `/2.0/repositories/*`.
 * The clock is injected so tests can move an hour forward instead of waiting.
 */
const HOUR_MS = 60 * 60 * 1000;

export class RateLimiter {
  private readonly calls = new Map<string, number[]>();
  /** Requests being held before their 429: let go at once by `releaseHolds()`. */
  private readonly holds = new Set<() => void>();

  constructor(
    readonly perHour: number,
    private readonly clock: () => Date,
    /** How long to hold a request before answering it 429 (Bitbucket may take about 30 s); 0 answers at once. */
    readonly holdMs = 0,
  ) {}

  /** Records one call; false when the credential has already spent its budget for the past hour. */
  take(credentialId: string): boolean {
    const now = this.clock().getTime();
    const recent = (this.calls.get(credentialId) ?? []).filter((t) => now - t < HOUR_MS);
    if (recent.length >= this.perHour) {
      this.calls.set(credentialId, recent);
      return false;
    }
    recent.push(now);
    this.calls.set(credentialId, recent);
    return true;
  }

  /** Calls left for the credential in the current window. */
  remaining(credentialId: string): number {
    const now = this.clock().getTime();
    const recent = (this.calls.get(credentialId) ?? []).filter((t) => now - t < HOUR_MS);
    return Math.max(0, this.perHour - recent.length);
  }

  /**
   * What is left of the credential's hour, spent at `at` (default now), as other use of the same account
   * spends it unseen: its requests are refused until `at` plus an hour, when those calls leave the window.
   */
  spend(credentialId: string, at: Date = this.clock()): void {
    const now = this.clock().getTime();
    const recent = (this.calls.get(credentialId) ?? []).filter((t) => now - t < HOUR_MS);
    const left = Math.max(0, this.perHour - recent.length);
    this.calls.set(credentialId, [...recent, ...Array.from({ length: left }, () => at.getTime())]);
  }

  /** Waits `holdMs` before a refused request is answered, unless the holds are released first. */
  hold(): Promise<void> {
    if (this.holdMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.holds.delete(release);
        resolve();
      };
      const timer = setTimeout(release, this.holdMs);
      this.holds.add(release);
    });
  }

  /** Answers every held request now (the server is closing: nothing waits out its hold). */
  releaseHolds(): void {
    for (const release of [...this.holds]) release();
  }
}
