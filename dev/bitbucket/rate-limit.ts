/**
 * A rolling one-hour request budget per user (or per access token), like Bitbucket's limit on `/2.0/repositories/*`.
 * The clock is injected so tests can move an hour forward instead of waiting.
 */
const HOUR_MS = 60 * 60 * 1000;

export class RateLimiter {
  private readonly calls = new Map<string, number[]>();

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
}
