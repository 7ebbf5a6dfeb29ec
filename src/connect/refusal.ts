/**
 * An engine refusal made before anything changed: what was refused and the way out, kept apart so the
 * pages can show them apart, and joined in `message` for the CLI.
 */
export class Refusal extends Error {
  constructor(
    readonly summary: string,
    readonly fix: string,
    separator = ' ',
  ) {
    super(`${summary}${separator}${fix}`);
  }
}
