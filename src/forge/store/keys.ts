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

export const keys = {
  valohaiSecret: (ws: string) => checked(`secret:valohai:${bareUuid(ws, 'workspace')}`),
  bitbucketSecret: (ws: string) => checked(`secret:bitbucket:${bareUuid(ws, 'workspace')}`),
  settings: (ws: string) => checked(`settings:${bareUuid(ws, 'workspace')}`),
  trust: (ws: string) => checked(`trust:${bareUuid(ws, 'workspace')}`),
  connection: (ws: string, repo: string) => checked(`conn:${repoPart(ws, repo)}`),
  connectionPrefix: (ws: string) => checked(`conn:${bareUuid(ws, 'workspace')}:`),
  /** Every workspace's connections: what the scheduled trigger walks. */
  allConnectionsPrefix: 'conn:',
  activeJob: (ws: string, repo: string) => checked(`active:${repoPart(ws, repo)}`),
  activeJobPrefix: (ws: string) => checked(`active:${bareUuid(ws, 'workspace')}:`),
  job: (jobId: string) => checked(`job:${escapeKeyPart(jobId)}`),
  pushState: (ws: string, repo: string) => checked(`push:${repoPart(ws, repo)}`),
  pushQueued: (ws: string, repo: string) => checked(`pushq:${repoPart(ws, repo)}`),
  /** Stored-token requests a connection's push handling spent in the current hour (push.ts). */
  pushSpend: (ws: string, repo: string) => checked(`pushspend:${repoPart(ws, repo)}`),
  lock: (name: string) => checked(`lock:${escapeKeyPart(name)}`),
  /** A connection's check history (health-records.ts). */
  health: (ws: string, repo: string) => checked(`health:${repoPart(ws, repo)}`),
  healthPrefix: (ws: string) => checked(`health:${bareUuid(ws, 'workspace')}:`),
  /** The workspace's policy for connections that look after themselves. */
  policy: (ws: string) => checked(`policy:${bareUuid(ws, 'workspace')}`),
  /** The scheduled checks' bookkeeping for the workspace. */
  automation: (ws: string) => checked(`automation:${bareUuid(ws, 'workspace')}`),
  /** The workspace's access-key audit: progress and cursor (fleet/audit.ts). */
  fleetAudit: (ws: string) => checked(`fleetaudit:${bareUuid(ws, 'workspace')}`),
  /** One batch's keys of an audit. */
  fleetAuditPart: (ws: string, auditId: string, index: number) =>
    checked(`fleetauditpart:${bareUuid(ws, 'workspace')}:${escapeKeyPart(auditId)}:${String(index).padStart(5, '0')}`),
  fleetAuditPartPrefix: (ws: string, auditId: string) => checked(`fleetauditpart:${bareUuid(ws, 'workspace')}:${escapeKeyPart(auditId)}:`),
  /** What fleet work spent of the stored token's hour (fleet/budget.ts). */
  fleetBudget: (ws: string) => checked(`fleetbudget:${bareUuid(ws, 'workspace')}`),
  /** The workspace's latest bulk action: its state (fleet/batch.ts). */
  fleetBatch: (ws: string) => checked(`fleetbatch:${bareUuid(ws, 'workspace')}`),
  /** The workspace's one bulk-action slot: created atomically, held while a batch runs. */
  fleetBatchSlot: (ws: string) => checked(`fleetbatchslot:${bareUuid(ws, 'workspace')}`),
  /** One repository of a batch. */
  fleetBatchItem: (ws: string, batchId: string, index: number) =>
    checked(`fleetbatchitem:${bareUuid(ws, 'workspace')}:${escapeKeyPart(batchId)}:${String(index).padStart(5, '0')}`),
  fleetBatchItemPrefix: (ws: string, batchId: string) => checked(`fleetbatchitem:${bareUuid(ws, 'workspace')}:${escapeKeyPart(batchId)}:`),
  /** A batch's cancel request, apart from its state so a running step cannot write over it. */
  fleetBatchCancel: (ws: string, batchId: string) => checked(`fleetbatchcancel:${bareUuid(ws, 'workspace')}:${escapeKeyPart(batchId)}`),
  /** Changed by every delivery of a batch step, so a step that held the lease runs again for one it turned away. */
  fleetBatchPoke: (ws: string, batchId: string) => checked(`fleetbatchpoke:${bareUuid(ws, 'workspace')}:${escapeKeyPart(batchId)}`),
  /**
   * One delivery of a queue event: the event (a hash of Forge's event id) and which attempt it is (its
   * retry count). Created by the first delivery to arrive; a duplicate of that attempt finds it taken.
   */
  delivery: (eventHash: string, attempt: number) => checked(`delivery:${escapeKeyPart(eventHash)}:${attempt}`),
};
