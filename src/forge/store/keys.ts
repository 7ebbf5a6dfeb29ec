/**
 * Storage keys. Forge allows 1-500 characters of `[a-zA-Z0-9:._\s-#]` in a key, so UUIDs lose their
 * braces and any other name is escaped (`#` + hex) into that alphabet, keeping distinct names distinct.
 */

const UUID = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/;

export class InvalidContextIdError extends Error {
  override readonly name = 'InvalidContextIdError';
  constructor(readonly what: string) {
    super(`The ${what} in the request context is not a UUID; the app cannot tell which ${what} this is.`);
  }
}

/** `{ABC-...}` → `abc-...`; refuses anything that is not a UUID. */
export function bareUuid(value: string, what: string): string {
  const m = UUID.exec(value.trim());
  if (!m) throw new InvalidContextIdError(what);
  return (m[1] as string).toLowerCase();
}

/** `abc-...` → `{abc-...}`, the form Bitbucket paths and payloads use. */
export function bracedUuid(value: string, what: string): string {
  return `{${bareUuid(value, what)}}`;
}

/** Any text as key characters: letters, digits, `.`, `_`, `-` kept; everything else `#xx`. */
export function escapeKeyPart(text: string): string {
  return [...text]
    .map((c) => (/[A-Za-z0-9._-]/.test(c) ? c : [...Buffer.from(c, 'utf8')].map((b) => `#${b.toString(16).padStart(2, '0')}`).join('')))
    .join('');
}

export const ALLOWED_KEY = /^[a-zA-Z0-9:._\s#-]{1,500}$/;

function checked(key: string): string {
  if (!ALLOWED_KEY.test(key)) throw new Error(`Storage key out of Forge's allowed alphabet or length: ${key.slice(0, 80)}`);
  return key;
}

const repoPart = (ws: string, repo: string) => `${bareUuid(ws, 'workspace')}:${bareUuid(repo, 'repository')}`;
/** `kind:<workspace>`, and what follows it (a prefix's `:`). */
const ofWorkspace = (kind: string, ws: string, rest = '') => checked(`${kind}:${bareUuid(ws, 'workspace')}${rest}`);
/** `kind:<workspace>:<run>` for one run of fleet work (an audit, a batch), and what follows it. */
const ofRun = (kind: string, ws: string, run: string, rest = '') => ofWorkspace(kind, ws, `:${escapeKeyPart(run)}${rest}`);
/** The `index`th record of a run, numbered so that the records list in order. */
const numbered = (index: number) => `:${String(index).padStart(5, '0')}`;
/** The numbered records of a run (an audit's parts, a batch's items), and the prefix that lists them. */
const runRecords = (kind: string) => ({
  record: (ws: string, run: string, index: number) => ofRun(kind, ws, run, numbered(index)),
  prefix: (ws: string, run: string) => ofRun(kind, ws, run, ':'),
});
const auditParts = runRecords('fleetauditpart');
const batchItems = runRecords('fleetbatchitem');
const listingParts = runRecords('replistingpart');

export const keys = {
  valohaiSecret: (ws: string) => ofWorkspace('secret:valohai', ws),
  bitbucketSecret: (ws: string) => ofWorkspace('secret:bitbucket', ws),
  settings: (ws: string) => ofWorkspace('settings', ws),
  trust: (ws: string) => ofWorkspace('trust', ws),
  connection: (ws: string, repo: string) => checked(`conn:${repoPart(ws, repo)}`),
  connectionPrefix: (ws: string) => ofWorkspace('conn', ws, ':'),
  /** Every workspace's connections: what the scheduled trigger walks. */
  allConnectionsPrefix: 'conn:',
  /** The Valohai project the app's last disconnect of a repository let go (project-use.ts). */
  released: (ws: string, repo: string) => checked(`released:${repoPart(ws, repo)}`),
  activeJob: (ws: string, repo: string) => checked(`active:${repoPart(ws, repo)}`),
  activeJobPrefix: (ws: string) => ofWorkspace('active', ws, ':'),
  job: (jobId: string) => checked(`job:${escapeKeyPart(jobId)}`),
  pushState: (ws: string, repo: string) => checked(`push:${repoPart(ws, repo)}`),
  /** The keys a disconnect without an API token left for the admin to remove by hand (jobs/by-hand.ts). */
  leftByHand: (ws: string, repo: string) => checked(`leftbyhand:${repoPart(ws, repo)}`),
  pushQueued: (ws: string, repo: string) => checked(`pushq:${repoPart(ws, repo)}`),
  /** Stored-token requests a connection's push handling spent in the current hour (push.ts). */
  pushSpend: (ws: string, repo: string) => checked(`pushspend:${repoPart(ws, repo)}`),
  lock: (name: string) => checked(`lock:${escapeKeyPart(name)}`),
  /** A connection's check history (health-records.ts). */
  health: (ws: string, repo: string) => checked(`health:${repoPart(ws, repo)}`),
  healthPrefix: (ws: string) => ofWorkspace('health', ws, ':'),
  /** The workspace's policy for connections that look after themselves. */
  policy: (ws: string) => ofWorkspace('policy', ws),
  /** The scheduled checks' bookkeeping for the workspace. */
  automation: (ws: string) => ofWorkspace('automation', ws),
  /** The workspace's access-key audit: progress and cursor (fleet/audit.ts). */
  fleetAudit: (ws: string) => ofWorkspace('fleetaudit', ws),
  /** One batch's keys of an audit. */
  fleetAuditPart: auditParts.record,
  fleetAuditPartPrefix: auditParts.prefix,
  /** The workspace's repositories as the app last listed them: the time and where the parts are (repository-listing.ts). */
  repositoryListing: (ws: string) => ofWorkspace('replisting', ws),
  /** One part of one read of that listing (the read's generation, then the part's number). */
  repositoryListingPart: listingParts.record,
  repositoryListingPartPrefix: listingParts.prefix,
  /** One token user's hour: every stored-token request of every path, by minute (token-ledger.ts). */
  tokenHour: (account: string) => checked(`tokenhour:${escapeKeyPart(account)}`),
  /** The workspace's latest bulk action: its state (fleet/batch.ts). */
  fleetBatch: (ws: string) => ofWorkspace('fleetbatch', ws),
  /** The workspace's one bulk-action slot: created atomically, held while a batch runs. */
  fleetBatchSlot: (ws: string) => ofWorkspace('fleetbatchslot', ws),
  /** One repository of a batch. */
  fleetBatchItem: batchItems.record,
  fleetBatchItemPrefix: batchItems.prefix,
  /** A batch's cancel request, apart from its state so a running step cannot write over it. */
  fleetBatchCancel: (ws: string, batchId: string) => ofRun('fleetbatchcancel', ws, batchId),
  /** Changed by every delivery of a batch step, so a step that held the lease runs again for one it turned away. */
  fleetBatchPoke: (ws: string, batchId: string) => ofRun('fleetbatchpoke', ws, batchId),
  /**
   * One delivery of a queue event: the event (a hash of Forge's event id) and which attempt it is (its
   * retry count). Created by the first delivery to arrive; a duplicate of that attempt finds it taken.
   */
  delivery: (eventHash: string, attempt: number) => checked(`delivery:${escapeKeyPart(eventHash)}:${attempt}`),
};
