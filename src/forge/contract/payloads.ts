/**
 * Runtime validation of payloads: the page is not trusted, since anything can call a resolver. The
 * rules for what a person types (`fieldRules`) are shared with the pages, which check before sending.
 */
import type { KeyType } from '../../connect/types';
import { branchOfRef, fetchRefProblem, REF_MAX_LENGTH } from '../../git/index';
import { normaliseValohaiHost } from '../../valohai/host';
import type { PayloadOf } from './api';
import { dateShapeProblem, type ResolverError, type ResolverName } from './common';
import {
  BATCH_MAX_REPOSITORIES,
  FLEET_PAGE_SIZE_MAX,
  type BatchAction,
  type BatchConnectChoice,
  type BatchItemStatus,
  type FleetFindingCode,
  type GetAuditPayload,
  type GetBatchPayload,
  type PlanBatchPayload,
  type StartBatchPayload,
} from './fleet';
import { HEALTH_POLICY_LIMITS } from './health';
import type { EmptyPayload, StartConnectPayload } from './repository';
import { MAX_OTHER_WORKSPACES, MAX_PROJECT_OWNERS } from './workspace';

export { normaliseValohaiHost };

/** What the pages call the fields a person types, for errors about what was typed. */
export const FIELD_NAMES: Readonly<Record<string, string>> = {
  token: 'The token',
  email: 'The email address',
  host: 'The Valohai host',
  ref: 'The fetch reference',
  'newProject.name': 'The project name',
  'newProject.owner': 'The owner',
  expiresOn: 'The expiry date',
  'autoRotate.everyDays': 'The rotation interval',
  'autoRotate.perDay': 'The daily rotation limit',
  unusedDays: 'The unused-key age',
  publicKey: 'The public key',
};

/** A public key line with a long comment fits; anything near this is not one. */
export const PUBLIC_KEY_MAX_LENGTH = 16384;

/**
 * The public half of a key made in Valohai, as the page sends it: its shape only (the server parses it
 * whole before anything is stored). A private key pasted by mistake is refused by what it is, unquoted.
 */
function givenPublicKey(resolver: ResolverName, obj: Obj): string {
  const value = obj.publicKey;
  if (typeof value !== 'string') throw new InvalidPayloadError(resolver, 'publicKey', 'must be a string');
  const trimmed = value.trim();
  if (/PRIVATE KEY|PuTTY-User-Key-File-|b3BlbnNzaC1rZXktdjE/i.test(trimmed)) {
    throw new InvalidPayloadError(resolver, 'publicKey', 'is a private key, which must never leave Valohai: paste the public key Valohai shows beside Generate SSH Key', true);
  }
  if (trimmed === '') throw new InvalidPayloadError(resolver, 'publicKey', 'is empty: paste the public key Valohai shows beside Generate SSH Key', true);
  if (trimmed.length > PUBLIC_KEY_MAX_LENGTH) throw new InvalidPayloadError(resolver, 'publicKey', 'is far longer than a public key line', true);
  return trimmed;
}

/**
 * A payload that does not match the contract. Names the field, never echoes its value. When the
 * field is one a person types (`FIELD_NAMES`) and a rule refused its value, the error is about what
 * they typed and names the field for the form to mark; otherwise the page and the app are out of step.
 */
export class InvalidPayloadError extends Error {
  override readonly name = 'InvalidPayloadError';
  constructor(
    readonly resolver: ResolverName,
    readonly field: string,
    readonly reason: string,
    /** The value broke one of `fieldRules` (as opposed to a missing or unknown field, a wrong type). */
    readonly typed = false,
  ) {
    super(`${resolver}: ${field} ${reason}.`);
  }

  /** The reply a resolver sends for this error. */
  toResolverError(): ResolverError {
    const name = FIELD_NAMES[this.field];
    if (this.typed && name) {
      return { code: 'invalid-payload', field: this.field, message: `${name} ${this.reason}.`, fix: 'Correct it, then send it again.' };
    }
    return {
      code: 'invalid-payload',
      message: `The request to ${this.resolver} was refused: ${this.field} ${this.reason}.`,
      fix: 'Reload the page and try again; if it keeps happening, the page and the app are out of step: redeploy the app.',
    };
  }
}

type Obj = Record<string, unknown>;

function objectWith(resolver: ResolverName, input: unknown, allowed: readonly string[]): Obj {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidPayloadError(resolver, 'payload', 'must be an object');
  }
  const obj = input as Obj;
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new InvalidPayloadError(resolver, key, 'is not a known field');
  }
  return obj;
}

// Control characters and DEL: never legitimate in any field here.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why a typed text (already trimmed) is refused, as the end of a sentence naming it; null: it is fine. */
function textProblem(value: string, max: number): string | null {
  if (value.length === 0) return 'must not be empty';
  if (value.length > max) return `must be at most ${max} characters`;
  if (CONTROL.test(value)) return 'must not contain control characters';
  return null;
}

/** Longest values the resolvers take. */
export const FIELD_LIMITS = { valohaiToken: 1000, bitbucketToken: 2000, email: 254, host: 300, projectName: 100, owner: 200, ref: REF_MAX_LENGTH } as const;

/**
 * What is plainly not an Atlassian API token, recognised by its shape before anything is sent: the
 * reason, naming what it is and what to paste instead; undefined when it may be one.
 */
export function bitbucketTokenMistake(token: string): string | undefined {
  // Private and public SSH keys are named by tokenProblem, for either token field.
  if (token.startsWith('ATCTT')) {
    return 'is a repository, project or workspace access token, which cannot manage access keys. Create an Atlassian API token with scopes instead';
  }
  if (token.startsWith('ATBB')) return 'is a Bitbucket app password, which Bitbucket is retiring. Create an Atlassian API token with scopes instead';
  if (/^[0-9a-f]{40}$/.test(token)) return 'looks like a Valohai token (40 hexadecimal characters); it belongs in the Valohai field above. Paste an Atlassian API token here';
  return undefined;
}

function tokenProblem(value: string, max: number): string | null {
  // Checked first: a private key is long and has spaces, and the useful thing to say is what it is.
  if (/-----BEGIN|PRIVATE KEY|^(ssh-(rsa|ed25519)|ecdsa-sha2-)\s/.test(value)) return 'is an SSH key, not an API token: paste the API token instead';
  const problem = textProblem(value, max);
  if (problem) return problem;
  if (/\s/.test(value)) return 'must not contain spaces';
  return null;
}

/**
 * The rules for what a person types, shared by the pages (which check before sending and mark the
 * field) and the validators below (which check again, since anything can call a resolver). Each takes
 * the trimmed value and returns why it is refused, to follow the field's name ("The token must not
 * contain spaces"), or null.
 */
export const fieldRules = {
  valohaiToken: (value: string) => tokenProblem(value, FIELD_LIMITS.valohaiToken),
  bitbucketToken: (value: string) => bitbucketTokenMistake(value) ?? tokenProblem(value, FIELD_LIMITS.bitbucketToken),
  email: (value: string) => textProblem(value, FIELD_LIMITS.email) ?? (EMAIL.test(value) ? null : 'must be an email address, e.g. you@example.com'),
  host: (value: string) =>
    textProblem(value, FIELD_LIMITS.host) ??
    (normaliseValohaiHost(value) === null ? 'must be an https:// address with no path, e.g. https://app.valohai.com' : null),
  projectName: (value: string) => textProblem(value, FIELD_LIMITS.projectName),
  owner: (value: string) => textProblem(value, FIELD_LIMITS.owner),
  ref: fetchRefProblem,
} as const;

/** A typed field: a string, trimmed, that passes its rule. */
function typed(resolver: ResolverName, obj: Obj, field: string, rule: (value: string) => string | null, name = field): string {
  const value = obj[field];
  if (typeof value !== 'string') throw new InvalidPayloadError(resolver, name, 'must be a string');
  const trimmed = value.trim();
  const problem = rule(trimmed);
  if (problem) throw new InvalidPayloadError(resolver, name, problem, true);
  return trimmed;
}

function text(resolver: ResolverName, obj: Obj, field: string, max: number): string {
  const value = obj[field];
  if (typeof value !== 'string') throw new InvalidPayloadError(resolver, field, 'must be a string');
  const trimmed = value.trim();
  const problem = textProblem(trimmed, max);
  if (problem) throw new InvalidPayloadError(resolver, field, problem);
  return trimmed;
}

function bool(resolver: ResolverName, obj: Obj, field: string): boolean {
  const value = obj[field];
  if (typeof value !== 'boolean') throw new InvalidPayloadError(resolver, field, 'must be true or false');
  return value;
}

function oneOf<T extends string>(resolver: ResolverName, obj: Obj, field: string, values: readonly T[]): T {
  const value = obj[field];
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new InvalidPayloadError(resolver, field, `must be one of ${values.join(', ')}`);
  }
  return value as T;
}

const KEY_TYPES: readonly KeyType[] = ['rsa', 'ed25519'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function ref(resolver: ResolverName, obj: Obj, field: string): string {
  return branchOfRef(typed(resolver, obj, field, fieldRules.ref));
}

const WORKSPACE_SLUG = /^[a-z0-9][a-z0-9_.-]{0,61}$/i;
/** A Valohai owner value: an organisation or user name, optionally `:team`. */
const VALOHAI_OWNER = /^[A-Za-z0-9_.@+-]{1,150}(:[A-Za-z0-9_.@+ -]{1,150})?$/;
const FULL_NAME = /^[A-Za-z0-9_.-]{1,62}\/[A-Za-z0-9_.-]{1,128}$/;

/** A whole number within limits, as a setting a person types (the field is marked when it is refused). */
function days(resolver: ResolverName, obj: Obj, field: string, name: string, limits: { min: number; max: number }): number {
  const value = obj[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < limits.min || value > limits.max) {
    throw new InvalidPayloadError(resolver, name, `must be a whole number from ${limits.min} to ${limits.max}`, true);
  }
  return value;
}

/** `expiresOn`, when given, as a date of the right shape (its range is checked with the server's clock). */
function expiresOn(resolver: 'saveValohaiToken' | 'saveBitbucketToken', obj: Obj): { expiresOn?: string } {
  if (obj.expiresOn === undefined || obj.expiresOn === '' || obj.expiresOn === null) return {};
  const value = typed(resolver, obj, 'expiresOn', dateShapeProblem);
  return { expiresOn: value };
}

function empty<K extends ResolverName>(resolver: K) {
  return (input: unknown): EmptyPayload => {
    objectWith(resolver, input, []);
    return {};
  };
}

function projectIdOf(resolver: ResolverName, obj: Obj): string {
  const projectId = text(resolver, obj, 'projectId', 36);
  if (!UUID.test(projectId)) throw new InvalidPayloadError(resolver, 'projectId', 'must be a Valohai project id (a UUID)');
  return projectId;
}

function connectPayload(resolver: 'startConnect' | 'startManualConnect', input: unknown): StartConnectPayload {
  // A key made in Valohai, and adopting a connection made with the CLI, need the stored token to go on
  // the repositories: no manual mode for either.
  const fields = ['projectId', 'newProject', 'ref', 'keyType', 'submodules', 'moveProject', ...(resolver === 'startConnect' ? ['publicKey', 'adopt'] : [])];
  const obj = objectWith(resolver, input, fields);
  const adopt = obj.adopt !== undefined && bool(resolver, obj, 'adopt');
  const common = {
    ...(obj.publicKey !== undefined ? { publicKey: givenPublicKey(resolver, obj) } : {}),
    ref: ref(resolver, obj, 'ref'),
    keyType: oneOf(resolver, obj, 'keyType', KEY_TYPES),
    submodules: bool(resolver, obj, 'submodules'),
    ...(obj.moveProject !== undefined ? { moveProject: bool(resolver, obj, 'moveProject') } : {}),
    ...(adopt ? { adopt: true } : {}),
  };
  const hasId = obj.projectId !== undefined;
  const hasNew = obj.newProject !== undefined;
  if (hasId === hasNew) {
    throw new InvalidPayloadError(resolver, 'projectId', 'or newProject must be given, not both');
  }
  // Adopting takes over the connection an existing project has here, with a key the app makes.
  if (adopt && hasNew) throw new InvalidPayloadError(resolver, 'adopt', 'applies to an existing project (projectId) only');
  if (adopt && obj.publicKey !== undefined) throw new InvalidPayloadError(resolver, 'adopt', 'makes a key of the app\'s own: it takes no publicKey');
  if (hasId) return { projectId: projectIdOf(resolver, obj), ...common };
  const project = obj.newProject;
  if (typeof project !== 'object' || project === null || Array.isArray(project)) {
    throw new InvalidPayloadError(resolver, 'newProject', 'must be an object');
  }
  for (const key of Object.keys(project)) {
    if (key !== 'name' && key !== 'owner') throw new InvalidPayloadError(resolver, `newProject.${key}`, 'is not a known field');
  }
  const p = project as Obj;
  const name = typed(resolver, p, 'name', fieldRules.projectName, 'newProject.name');
  const owner = typed(resolver, p, 'owner', fieldRules.owner, 'newProject.owner');
  return { newProject: { name, owner }, ...common };
}

const FLEET_FINDINGS: readonly FleetFindingCode[] = ['unused', 'weak', 'shared', 'lookalike'];

/** A whole number the page sends (not typed by a person): out of range is the page's mistake. */
function whole(resolver: ResolverName, obj: Obj, field: string, min: number, max: number): number {
  const value = obj[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidPayloadError(resolver, field, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Which page of a long list (an audit's keys, a batch's items) to read; 0 per page: progress only. */
function paging(resolver: 'getAudit' | 'getBatch', obj: Obj): { page?: number; pageSize?: number } {
  const out: { page?: number; pageSize?: number } = {};
  if (obj.page !== undefined) out.page = whole(resolver, obj, 'page', 1, 100_000);
  if (obj.pageSize !== undefined) out.pageSize = whole(resolver, obj, 'pageSize', 0, FLEET_PAGE_SIZE_MAX);
  return out;
}

const BATCH_ACTIONS: readonly BatchAction[] = ['rotate', 'verify', 'disconnect', 'connect'];
const BATCH_ITEM_STATUSES: readonly BatchItemStatus[] = ['queued', 'running', 'done', 'failed', 'skipped'];
const BATCH_FIELDS = ['action', 'repositories', 'olderThanDays', 'keyType', 'connect'] as const;

/** The selection both batch resolvers take. Names are only shaped here; the backend matches them against the workspace. */
function batchPayload(resolver: 'planBatch' | 'startBatch', input: unknown): PlanBatchPayload {
  const obj = objectWith(resolver, input, BATCH_FIELDS);
  const action = oneOf(resolver, obj, 'action', BATCH_ACTIONS);
  const hasList = obj.repositories !== undefined;
  const hasAge = obj.olderThanDays !== undefined;
  if (hasList === hasAge) throw new InvalidPayloadError(resolver, 'repositories', 'or olderThanDays must be given, not both');
  const out: PlanBatchPayload = { action };
  if (hasList) {
    const list = obj.repositories;
    if (!Array.isArray(list) || list.length === 0 || list.length > BATCH_MAX_REPOSITORIES) {
      throw new InvalidPayloadError(resolver, 'repositories', `must be a list of 1 to ${BATCH_MAX_REPOSITORIES} repositories (workspace/repository)`);
    }
    const seen = new Set<string>();
    out.repositories = [];
    list.forEach((name, i) => {
      if (typeof name !== 'string' || !FULL_NAME.test(name.trim())) throw new InvalidPayloadError(resolver, `repositories[${i}]`, 'must be workspace/repository');
      const trimmed = name.trim();
      if (seen.has(trimmed.toLowerCase())) return;
      seen.add(trimmed.toLowerCase());
      out.repositories?.push(trimmed);
    });
  } else {
    if (action !== 'rotate') throw new InvalidPayloadError(resolver, 'olderThanDays', 'applies to rotate only');
    out.olderThanDays = whole(resolver, obj, 'olderThanDays', 0, 3650);
  }
  if (obj.keyType !== undefined) {
    if (action !== 'rotate' && action !== 'connect') throw new InvalidPayloadError(resolver, 'keyType', 'applies to rotate and connect only');
    out.keyType = oneOf(resolver, obj, 'keyType', KEY_TYPES);
  }
  if (action === 'connect') out.connect = batchConnectChoice(resolver, obj.connect);
  else if (obj.connect !== undefined) throw new InvalidPayloadError(resolver, 'connect', 'applies to connect only');
  return out;
}

function batchConnectChoice(resolver: 'planBatch' | 'startBatch', value: unknown): BatchConnectChoice {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidPayloadError(resolver, 'connect', 'must be an object');
  const c = value as Obj;
  for (const key of Object.keys(c)) {
    if (!['project', 'owner', 'ref', 'submodules'].includes(key)) throw new InvalidPayloadError(resolver, `connect.${key}`, 'is not a known field');
  }
  const project = oneOf(resolver, c, 'project', ['existing', 'new'] as const);
  const common = {
    ...(c.ref !== undefined ? { ref: ref(resolver, c, 'ref') } : {}),
    ...(c.submodules !== undefined ? { submodules: bool(resolver, c, 'submodules') } : {}),
  };
  if (project === 'existing') {
    if (c.owner !== undefined) throw new InvalidPayloadError(resolver, 'connect.owner', 'applies to new projects only');
    return { project, ...common };
  }
  return { project, owner: typed(resolver, c, 'owner', fieldRules.owner, 'connect.owner'), ...common };
}

/**
 * One validator per resolver: takes `req.payload` as received, returns the typed payload (strings
 * trimmed, host normalised) or throws InvalidPayloadError. Unknown fields are refused.
 */
export const validatePayload: { [K in ResolverName]: (input: unknown) => PayloadOf<K> } = {
  getWorkspaceSettings(input) {
    const obj = objectWith('getWorkspaceSettings', input, ['refreshRepositories']);
    return obj.refreshRepositories !== undefined && bool('getWorkspaceSettings', obj, 'refreshRepositories') ? { refreshRepositories: true } : {};
  },

  saveValohaiToken(input) {
    const obj = objectWith('saveValohaiToken', input, ['host', 'token', 'expiresOn']);
    const token = typed('saveValohaiToken', obj, 'token', fieldRules.valohaiToken);
    const expiry = expiresOn('saveValohaiToken', obj);
    if (obj.host === undefined || obj.host === '') return { token, ...expiry };
    const host = normaliseValohaiHost(typed('saveValohaiToken', obj, 'host', fieldRules.host)) as string;
    return { host, token, ...expiry };
  },

  saveBitbucketToken(input) {
    const obj = objectWith('saveBitbucketToken', input, ['email', 'token', 'expiresOn', 'confirmWorse']);
    const email = typed('saveBitbucketToken', obj, 'email', fieldRules.email);
    const token = typed('saveBitbucketToken', obj, 'token', fieldRules.bitbucketToken);
    const confirmWorse = obj.confirmWorse !== undefined && bool('saveBitbucketToken', obj, 'confirmWorse');
    return { email, token, ...expiresOn('saveBitbucketToken', obj), ...(confirmWorse ? { confirmWorse } : {}) };
  },

  clearCredentials(input) {
    const obj = objectWith('clearCredentials', input, ['which']);
    return { which: oneOf('clearCredentials', obj, 'which', ['valohai', 'bitbucket', 'all'] as const) };
  },

  getRepositoryPage: empty('getRepositoryPage'),

  previewConnect(input) {
    const obj = objectWith('previewConnect', input, ['ref', 'submodules', 'projectId']);
    const submodules = bool('previewConnect', obj, 'submodules');
    const project = obj.projectId === undefined ? {} : { projectId: projectIdOf('previewConnect', obj) };
    if (obj.ref === undefined || obj.ref === '') return { submodules, ...project };
    return { ref: ref('previewConnect', obj, 'ref'), submodules, ...project };
  },

  startConnect: (input) => connectPayload('startConnect', input),
  startManualConnect: (input) => connectPayload('startManualConnect', input),
  verifyManual: empty('verifyManual'),

  startRotate(input) {
    const obj = objectWith('startRotate', input, ['keyType', 'publicKey']);
    if (obj.publicKey !== undefined && obj.keyType !== undefined) throw new InvalidPayloadError('startRotate', 'keyType', 'does not go with publicKey (a key made in Valohai has its own type)');
    if (obj.publicKey !== undefined) return { publicKey: givenPublicKey('startRotate', obj) };
    if (obj.keyType === undefined) return {};
    return { keyType: oneOf('startRotate', obj, 'keyType', KEY_TYPES) };
  },

  startDisconnect: empty('startDisconnect'),
  startVerify: empty('startVerify'),
  dismissLeftByHand: empty('dismissLeftByHand'),

  getJob(input) {
    const obj = objectWith('getJob', input, ['jobId']);
    const jobId = text('getJob', obj, 'jobId', 100);
    if (!JOB_ID.test(jobId)) throw new InvalidPayloadError('getJob', 'jobId', 'is not a job id');
    return { jobId };
  },

  saveTrustSettings(input) {
    const obj = objectWith('saveTrustSettings', input, ['connectors', 'otherWorkspaces', 'projectOwners']);
    const connectors = oneOf('saveTrustSettings', obj, 'connectors', ['workspace-admins', 'repository-admins'] as const);
    const list = obj.otherWorkspaces;
    if (!Array.isArray(list) || list.length > MAX_OTHER_WORKSPACES) {
      throw new InvalidPayloadError('saveTrustSettings', 'otherWorkspaces', `must be a list of at most ${MAX_OTHER_WORKSPACES} workspace slugs`);
    }
    const otherWorkspaces = list.map((w, i) => {
      if (typeof w !== 'string' || !WORKSPACE_SLUG.test(w.trim())) {
        throw new InvalidPayloadError('saveTrustSettings', `otherWorkspaces[${i}]`, 'must be a workspace slug such as acme-research');
      }
      return w.trim().toLowerCase();
    });
    const owners = obj.projectOwners ?? [];
    if (!Array.isArray(owners) || owners.length > MAX_PROJECT_OWNERS) {
      throw new InvalidPayloadError('saveTrustSettings', 'projectOwners', `must be a list of at most ${MAX_PROJECT_OWNERS} Valohai owners`);
    }
    const projectOwners = owners.map((o, i) => {
      if (typeof o !== 'string' || !VALOHAI_OWNER.test(o.trim())) {
        throw new InvalidPayloadError('saveTrustSettings', `projectOwners[${i}]`, 'must be a Valohai organisation or org:team, as the owner list shows it');
      }
      return o.trim();
    });
    return { connectors, otherWorkspaces, projectOwners };
  },

  saveHealthPolicy(input) {
    const obj = objectWith('saveHealthPolicy', input, ['drift', 'unneededKeys', 'autoRotate', 'unusedDays']);
    const drift = oneOf('saveHealthPolicy', obj, 'drift', ['repair', 'alert'] as const);
    const unneededKeys = oneOf('saveHealthPolicy', obj, 'unneededKeys', ['offer', 'remove'] as const);
    const rotate = obj.autoRotate;
    if (typeof rotate !== 'object' || rotate === null || Array.isArray(rotate)) {
      throw new InvalidPayloadError('saveHealthPolicy', 'autoRotate', 'must be an object');
    }
    for (const key of Object.keys(rotate)) {
      if (!['enabled', 'everyDays', 'perDay'].includes(key)) throw new InvalidPayloadError('saveHealthPolicy', `autoRotate.${key}`, 'is not a known field');
    }
    const r = rotate as Obj;
    return {
      drift,
      unneededKeys,
      autoRotate: {
        enabled: bool('saveHealthPolicy', r, 'enabled'),
        everyDays: days('saveHealthPolicy', r, 'everyDays', 'autoRotate.everyDays', HEALTH_POLICY_LIMITS.everyDays),
        perDay: days('saveHealthPolicy', r, 'perDay', 'autoRotate.perDay', HEALTH_POLICY_LIMITS.perDay),
      },
      unusedDays: days('saveHealthPolicy', obj, 'unusedDays', 'unusedDays', HEALTH_POLICY_LIMITS.unusedDays),
    };
  },

  removeUnneededKey(input) {
    const obj = objectWith('removeUnneededKey', input, ['repository', 'keyId']);
    const repository = text('removeUnneededKey', obj, 'repository', 200);
    if (!FULL_NAME.test(repository)) throw new InvalidPayloadError('removeUnneededKey', 'repository', 'must be workspace/repository');
    const keyId = obj.keyId;
    if (typeof keyId !== 'number' || !Number.isSafeInteger(keyId) || keyId < 1) {
      throw new InvalidPayloadError('removeUnneededKey', 'keyId', 'must be an access key id (a positive whole number)');
    }
    return { repository, keyId };
  },

  // --- Fleet ---------------------------------------------------------------------------------

  startAudit(input) {
    const obj = objectWith('startAudit', input, ['unusedDays']);
    if (obj.unusedDays === undefined) return {};
    return { unusedDays: days('startAudit', obj, 'unusedDays', 'unusedDays', HEALTH_POLICY_LIMITS.unusedDays) };
  },

  getAudit(input) {
    const obj = objectWith('getAudit', input, ['page', 'pageSize', 'finding']);
    const out: GetAuditPayload = paging('getAudit', obj);
    if (obj.finding !== undefined) out.finding = oneOf('getAudit', obj, 'finding', FLEET_FINDINGS);
    return out;
  },

  exportAudit(input) {
    const obj = objectWith('exportAudit', input, ['format']);
    return { format: oneOf('exportAudit', obj, 'format', ['csv', 'json'] as const) };
  },

  planBatch: (input) => batchPayload('planBatch', input),

  startBatch(input) {
    const obj = objectWith('startBatch', input, [...BATCH_FIELDS, 'confirm']);
    const { confirm, ...rest } = obj;
    const payload: StartBatchPayload = batchPayload('startBatch', rest);
    if (confirm !== undefined) payload.confirm = text('startBatch', obj, 'confirm', 100);
    return payload;
  },

  getBatch(input) {
    const obj = objectWith('getBatch', input, ['page', 'pageSize', 'status']);
    const out: GetBatchPayload = paging('getBatch', obj);
    if (obj.status !== undefined) out.status = oneOf('getBatch', obj, 'status', BATCH_ITEM_STATUSES);
    return out;
  },

  cancelBatch: empty('cancelBatch'),
  checkSetup: empty('checkSetup'),
};
