/**
 * The preflight of the one unconfirmed Valohai call (client.ts `setRepository`): before a private key
 * is sent, Valohai's own description of its repository settings route is read (`OPTIONS`, which Django
 * REST Framework answers with `actions.PUT`: the writable fields) and compared with the fields the app
 * writes. Pure: the client does the request, this file reads the answer and words the refusal.
 */
import { asObject } from './map';

/**
 * Valohai's names of the repository settings fields the app writes. UNCONFIRMED (see setRepository):
 * if Valohai names them otherwise, this is the one line to change.
 */
export const REPOSITORY_WRITE_FIELDS = { url: 'url', ref: 'ref', sshPrivateKey: 'ssh_private_key' } as const;

const WRITTEN: readonly string[] = Object.values(REPOSITORY_WRITE_FIELDS);

/** What a connection with a key made in Valohai writes, when Valohai says it may: never the key. */
export const LOCATION_FIELDS: readonly string[] = [REPOSITORY_WRITE_FIELDS.url, REPOSITORY_WRITE_FIELDS.ref];

/** Where Valohai's UI makes the key pair itself: the mode that needs no write of a private key. */
export const KEY_MADE_IN_VALOHAI =
  'generate the key in Valohai (Settings › Repository › Generate SSH Key) and connect with its public key';

export interface RepositoryField {
  name: string;
  label?: string;
  type?: string;
  required: boolean;
  readOnly: boolean;
}

/** What `OPTIONS repositories/{id}/` said. */
export interface RepositoryWriteMetadata {
  /** The HTTP status of the OPTIONS answer (200 when Valohai described the route). */
  status: number;
  /** The fields `actions.PUT` lists; undefined when the answer had no `actions.PUT`. */
  fields: RepositoryField[] | undefined;
  /** The methods the `Allow` header names, upper case; empty when there was none. */
  allow: string[];
}

export interface RepositoryWriteVerdict {
  ok: boolean;
  /** The writable fields Valohai offers, as `name ("Label")`. */
  offered: string[];
  /** Fields the app writes that Valohai does not list at all. */
  missing: string[];
  /** Fields the app writes that Valohai lists as read-only. */
  readOnly: string[];
  /** Why the route could not be judged (no description at all), when that is the problem. */
  undescribed?: string;
}

function field(name: string, value: unknown): RepositoryField {
  const o = asObject(value) ?? {};
  const out: RepositoryField = { name, required: o.required === true, readOnly: o.read_only === true };
  if (typeof o.label === 'string') out.label = o.label;
  if (typeof o.type === 'string') out.type = o.type;
  return out;
}

/** Reads DRF's metadata body (`{name, actions: {PUT: {field: {type, required, read_only, label}}}}`). */
export function parseRepositoryMetadata(status: number, body: unknown, allowHeader: string | undefined): RepositoryWriteMetadata {
  const allow = (allowHeader ?? '')
    .split(',')
    .map((m) => m.trim().toUpperCase())
    .filter(Boolean);
  const put = asObject(asObject(asObject(body)?.actions)?.PUT);
  const fields = put ? Object.entries(put).map(([name, value]) => field(name, value)) : undefined;
  return { status, fields, allow };
}

/** Whether Valohai's settings take `written` (default: every field the app's own key needs written). */
export function judgeRepositoryWrite(meta: RepositoryWriteMetadata, written: readonly string[] = WRITTEN): RepositoryWriteVerdict {
  if (!meta.fields) {
    const undescribed =
      meta.status === 200
        ? 'its answer to OPTIONS lists no writable fields (no "actions.PUT"): the token\'s user may not change this project\'s repository settings, or Valohai does not offer that change through its API'
        : `it answered OPTIONS with ${meta.status} instead of describing the route`;
    return { ok: false, offered: [], missing: [...written], readOnly: [], undescribed };
  }
  const byName = new Map(meta.fields.map((f) => [f.name, f]));
  const missing = written.filter((n) => !byName.has(n));
  const readOnly = written.filter((n) => byName.get(n)?.readOnly === true);
  const offered = meta.fields.filter((f) => !f.readOnly).map((f) => (f.label ? `${f.name} ("${f.label}")` : f.name));
  return { ok: missing.length === 0 && readOnly.length === 0, offered, missing, readOnly };
}

function list(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** What Valohai offers, in a few words (for the set-up check's line). */
export function describeVerdict(verdict: RepositoryWriteVerdict): string {
  if (verdict.undescribed) return `Valohai did not describe its repository settings: ${verdict.undescribed}.`;
  const offered = verdict.offered.length ? `Valohai's repository settings offer ${list(verdict.offered)}` : "Valohai's repository settings offer no writable field";
  const problems = [
    ...(verdict.missing.length ? [`${list(verdict.missing)} ${verdict.missing.length === 1 ? 'is' : 'are'} not there`] : []),
    ...(verdict.readOnly.length ? [`${list(verdict.readOnly)} ${verdict.readOnly.length === 1 ? 'is' : 'are'} read-only`] : []),
  ];
  return `${offered}${problems.length ? `; ${problems.join('; ')}` : ''}.`;
}

/** The refusal's whole message: what was found, that nothing was written, and the mode that needs no write. */
export function repositoryWriteRefusal(host: string, verdict: RepositoryWriteVerdict): string {
  return (
    `Valohai at ${host} does not take the repository settings this app writes (${list(WRITTEN)}), so the app stopped before changing anything. ` +
    `${describeVerdict(verdict)} Instead, ${KEY_MADE_IN_VALOHAI}.`
  );
}
