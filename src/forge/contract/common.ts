/**
 * What both pages and every resolver share: the module keys and resolver names, the reply envelope
 * and its error codes, the links and thresholds both pages show, and the date maths of a stored
 * token's expiry.
 */
import { API_TOKEN_URL, BITBUCKET_TOKEN_SCOPES } from '../../bitbucket/account';

// --- Module keys (must match manifest.yml) and resolver names --------------------------------

/** The two Custom UI modules; the page picks its view from `context.moduleKey`. */
export const MODULE_KEYS = {
  repository: 'valohai-repo-settings',
  workspace: 'valohai-workspace-settings',
} as const;

export const RESOLVERS = [
  'getWorkspaceSettings',
  'saveValohaiToken',
  'saveBitbucketToken',
  'clearCredentials',
  'getRepositoryPage',
  'previewConnect',
  'startConnect',
  'startManualConnect',
  'verifyManual',
  'startRotate',
  'startDisconnect',
  'startVerify',
  /** The admin removed by hand the keys a disconnect without an API token left: forget the list. */
  'dismissLeftByHand',
  'getJob',
  // Trust settings (who may connect, which other workspaces may receive the key).
  'saveTrustSettings',
  // Connections that look after themselves: the workspace's policy, and removing a key no connection needs.
  'saveHealthPolicy',
  'removeUnneededKey',
  // Fleet: the workspace's access-key audit and bulk actions (workspace admins only).
  'startAudit',
  'getAudit',
  'exportAudit',
  'planBatch',
  'startBatch',
  'getBatch',
  'cancelBatch',
  // The set-up check: every assumption tested live with the stored credentials (workspace admins only).
  'checkSetup',
] as const;

export type ResolverName = (typeof RESOLVERS)[number];

// --- Constants the pages and resolvers share -------------------------------------------------

export { DEFAULT_VALOHAI_HOST } from '../../valohai/host';

/**
 * Scopes to tick when creating the Atlassian API token that manages access keys
 * (https://id.atlassian.com/manage-profile/security/api-tokens, "Create API token with scopes",
 * app Bitbucket). Access keys are `api-token` only in Bitbucket's spec, hence a user token at all.
 */
export { BITBUCKET_TOKEN_SCOPES };

export const ATLASSIAN_API_TOKENS_URL = API_TOKEN_URL;

/** A repository's access keys page on Bitbucket, where a key is added or removed by hand. */
export function accessKeysUrl(workspace: string, slug: string): string {
  return `https://bitbucket.org/${encodeURIComponent(workspace)}/${encodeURIComponent(slug)}/admin/access-keys/`;
}

/** A commit's page on Bitbucket. */
export function commitUrl(workspace: string, slug: string, sha: string): string {
  return `https://bitbucket.org/${encodeURIComponent(workspace)}/${encodeURIComponent(slug)}/commits/${encodeURIComponent(sha)}`;
}

/** Where a Valohai user makes a personal token, on their own installation's host. */
export function valohaiTokensUrl(host: string): string {
  return `${host.replace(/\/+$/, '')}/auth/tokens/`;
}

export { KEY_AGE_ALERT_DAYS, KEY_AGE_WARNING_DAYS, keyAgeLevel, type KeyAgeLevel } from '../../connect/key-age';

// --- Reply envelope and errors ---------------------------------------------------------------

export type ResolverErrorCode =
  | 'invalid-payload'
  | 'not-admin'
  | 'not-set-up'
  | 'invalid-token'
  | 'missing-scopes'
  /** A working stored token would be replaced by one that does less (named); saved only when confirmed. */
  | 'worse-token'
  | 'not-connected'
  | 'already-connected'
  /** The Valohai project chosen is connected to another repository (named in the message). */
  | 'project-in-use'
  | 'job-running'
  | 'not-found'
  | 'valohai-error'
  | 'host-not-allowed'
  | 'bitbucket-error'
  | 'rate-limited'
  | 'internal';

/** What went wrong and what the user does about it; shown as a SectionMessage. Never a secret. */
export interface ResolverError {
  code: ResolverErrorCode;
  /** What happened, e.g. "Valohai refused the token (401)." */
  message: string;
  /** The exact next step, e.g. "Create a new token at https://app.valohai.com/auth/tokens/ and save it here." */
  fix: string;
  /**
   * True when the same request may well succeed a little later (a server's passing fault, a busy
   * lock, a rate limit): only then do the pages offer to try again.
   */
  temporary?: boolean;
  /** The payload field the error is about, when it is about one: the form shows it on that field. */
  field?: string;
}

export type Reply<T> = { ok: true; value: T } | { ok: false; error: ResolverError };

// --- Token expiry dates ----------------------------------------------------------------------

/** Warn this many days before a stored token's expiry date, on the workspace page and on every repository page. */
export const TOKEN_EXPIRY_WARNING_DAYS = 30;
/** An Atlassian API token expires at most this many days after it is made. */
export const MAX_TOKEN_LIFETIME_DAYS = 366;

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const NOT_A_DATE = 'must be a date such as 2027-06-30';

/** Why a typed date is not of the `YYYY-MM-DD` shape, or null: the rule a payload's date is held to. */
export function dateShapeProblem(value: string): string | null {
  return DATE_ONLY.test(value) ? null : NOT_A_DATE;
}

/**
 * Why an expiry date typed as `YYYY-MM-DD` is refused, or null: it must be a real date, not before
 * `today` (the server's clock decides; the page checks with the browser's) and, for an Atlassian API
 * token, at most MAX_TOKEN_LIFETIME_DAYS ahead.
 */
export function expiryProblem(value: string, today: Date): string | null {
  const m = DATE_ONLY.exec(value);
  if (!m) return NOT_A_DATE;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (date.toISOString().slice(0, 10) !== value) return NOT_A_DATE;
  const day = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  if (date.getTime() < day) return 'is in the past: the token has expired, so make a new one';
  if (date.getTime() - day > MAX_TOKEN_LIFETIME_DAYS * 86_400_000) return 'is more than a year ahead, which no Atlassian API token allows: check the date';
  return null;
}

/** Whole days from `today` to the `YYYY-MM-DD` date (negative once it has passed). */
export function daysUntil(dateOnly: string, today: Date): number {
  const m = DATE_ONLY.exec(dateOnly);
  if (!m) return Number.NaN;
  const date = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const day = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  return Math.round((date - day) / 86_400_000);
}
