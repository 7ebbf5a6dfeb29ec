/**
 * What an audit says about one access key, whoever made it: type and size, fingerprint, age, last use,
 * the recorded connection it belongs to, and the findings (unused, weak, shared, lookalike), plus the
 * audit's CSV form. Pure: the CLI's audit (audit.ts) and the app's resumable audit both use it.
 */
import { fingerprintOfBlob, InvalidPublicKeyError, parsePublicKey } from '../ssh/index';
import { ageDays } from './key-age';
import { labelMaker, labelProjectMarker, looksLikeAppLabel, projectMarker } from './label';
import type { AccessKeyInfo, ConnectionRecord } from './ports';
import type { AuditedKey, AuditFindingCode } from './types';

export type { AuditedKey, AuditFindingCode } from './types';

export interface AuditResult {
  workspace: string;
  repositories: number;
  keys: AuditedKey[];
  /** Repositories whose keys could not be read, with the reason. */
  unreadable: { repository: string; error: string }[];
  unusedDays: number;
  auditedAt: string;
}

export const DEFAULT_UNUSED_DAYS = 90;
const WEAK_RSA_BITS = 3072;
/** This app's labels: "Valohai <project> <date> [vh:<marker>]". */

function describeKey(key: string): { type: string; bits: number | null; fingerprint: string; weak: boolean } {
  const [type = '', base64 = ''] = key.trim().split(/\s+/);
  try {
    const parsed = parsePublicKey(key);
    return { type: parsed.type, bits: parsed.bits, fingerprint: parsed.fingerprint, weak: parsed.type === 'ssh-rsa' && parsed.bits < WEAK_RSA_BITS };
  } catch (err) {
    // Keys this app would refuse to make (DSA, short RSA) are exactly the ones worth reporting.
    const bits = err instanceof InvalidPublicKeyError ? (err.bits ?? null) : null;
    let fingerprint = 'unreadable key';
    try {
      fingerprint = fingerprintOfBlob(Buffer.from(base64, 'base64'));
    } catch {
      // stays unreadable
    }
    const weak = type === 'ssh-dss' || (type === 'ssh-rsa' && bits !== null && bits < WEAK_RSA_BITS);
    return { type, bits, fingerprint, weak };
  }
}

/** Recorded connections by public key (`type base64`): current keys, then keys they retired. */
export type ConnectionIndex = Map<string, AuditedKey['connection']>;

export function connectionIndex(records: readonly ConnectionRecord[]): ConnectionIndex {
  const byKey: ConnectionIndex = new Map();
  for (const r of records) {
    const connection = { repository: r.repository, projectId: r.projectId, projectName: r.projectName, keySource: r.keySource === 'valohai' ? ('valohai' as const) : ('app' as const) };
    byKey.set(r.publicKey, { ...connection, current: true });
    for (const old of r.retired ?? []) if (!byKey.has(old)) byKey.set(old, { ...connection, current: false });
  }
  return byKey;
}

/**
 * One key as the audit reports it, with the findings that need only the key itself (`unused`, `weak`,
 * `lookalike`); `shared` needs every repository's keys and is added by markShared.
 */
export function auditKey(repository: string, k: AccessKeyInfo, byKey: ConnectionIndex, now: Date, unusedDays: number): AuditedKey {
  const d = describeKey(k.key);
  const connection = byKey.get(k.key.trim().split(/\s+/).slice(0, 2).join(' ')) ?? null;
  const lastUse = ageDays(k.lastUsed, now);
  const age = ageDays(k.createdOn, now);
  const findings: AuditFindingCode[] = [];
  if ((lastUse ?? age ?? 0) >= unusedDays) findings.push('unused');
  if (d.weak) findings.push('weak');
  if (!connection && looksLikeAppLabel(k.label)) findings.push('lookalike');
  return {
    repository,
    id: k.id,
    label: k.label,
    type: d.type,
    bits: d.bits,
    fingerprint: d.fingerprint,
    createdOn: k.createdOn ?? null,
    ageDays: age,
    lastUsed: k.lastUsed,
    connection,
    findings,
  };
}

/** The same key on several repositories is a connection's design; outside one, nobody owns it. */
export function markShared(keys: AuditedKey[]): void {
  const where = new Map<string, Set<string>>();
  for (const k of keys) where.set(k.fingerprint, (where.get(k.fingerprint) ?? new Set()).add(k.repository));
  for (const k of keys) {
    if (!k.connection && (where.get(k.fingerprint)?.size ?? 0) > 1 && !k.findings.includes('shared')) k.findings.push('shared');
  }
}

const usedAt = (k: AuditedKey) => (k.lastUsed ? Date.parse(k.lastUsed) : Number.NaN);

/**
 * Keys labelled like this app's that no connection here recorded, which Bitbucket saw used after every
 * key recorded here for the same project on the same repository (with none, used within the unused
 * period): Valohai's last fetch may have used them, so they are in use by another connection (`inUseBy`)
 * rather than lookalikes to remove. Run after auditKey, on every key of the audit.
 */
export function markInUse(keys: AuditedKey[]): void {
  for (const k of keys) {
    const marker = labelProjectMarker(k.label);
    if (k.connection || !marker || Number.isNaN(usedAt(k))) continue;
    const ours = keys.filter(
      (o) => o.connection && o.repository.toLowerCase() === k.repository.toLowerCase() && projectMarker(o.connection.projectId) === marker,
    );
    const oursLast = Math.max(Number.NEGATIVE_INFINITY, ...ours.map(usedAt).filter((t) => !Number.isNaN(t)));
    const live = ours.length ? usedAt(k) > oursLast : !k.findings.includes('unused');
    if (!live) continue;
    k.inUseBy = labelMaker(k.label) ?? 'app';
    // The same key on the other connection's submodule repositories is that connection's design too.
    k.findings = k.findings.filter((f) => f !== 'lookalike' && f !== 'shared');
  }
}

const CSV_COLUMNS = ['repository', 'id', 'label', 'type', 'bits', 'fingerprint', 'createdOn', 'ageDays', 'lastUsed', 'connection', 'findings'] as const;

/** One cell: quoted where needed, and a leading =, +, - or @ defused so a spreadsheet never runs it. */
function cell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function auditCsv(result: AuditResult): string {
  const rows = result.keys.map((k) =>
    [
      k.repository,
      String(k.id),
      k.label,
      k.type,
      k.bits === null ? '' : String(k.bits),
      k.fingerprint,
      k.createdOn ?? '',
      k.ageDays === null ? '' : String(k.ageDays),
      k.lastUsed ?? '',
      k.connection
        ? `${k.connection.repository} -> ${k.connection.projectName}${k.connection.current ? '' : ' (retired key)'}`
        : k.inUseBy
          ? `another connection (${k.inUseBy === 'app' ? 'made in the app' : 'made with the CLI elsewhere'})`
          : '',
      k.findings.join(' '),
    ].map(cell).join(','),
  );
  return `${[CSV_COLUMNS.join(','), ...rows].join('\n')}\n`;
}
