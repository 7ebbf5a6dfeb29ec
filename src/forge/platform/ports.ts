/**
 * The ports the Forge backend runs over. Forge wires the real ones (forge.ts); the local
 * preview and the tests wire in-process ones (dev/forge/memory-platform.ts). Everything above this file is the
 * same code in all three.
 */
import type { BitbucketTransport } from '../../bitbucket/index';
import type { Clock, DoctorValohai, KeyGenerator, ValohaiApi } from '../../connect/index';
import type { Project, ValohaiUser } from '../../valohai/index';
import { VALOHAI_EGRESS_HOSTS } from './valohai-hosts';

/**
 * Who is calling and from where, taken only from Forge's `req.context` (never from a payload):
 * `workspaceId` and `repositoryUuid` are `{uuid}` with braces, as Bitbucket writes them.
 */
export interface TrustedContext {
  workspaceId: string;
  /** Absent on the workspace settings page. */
  repositoryUuid?: string;
  accountId: string;
  moduleKey?: string;
}

/** Forge secret storage: values are written and read here only, never returned to a page. */
export interface SecretStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface StoreWriteOptions {
  /** The record disappears by itself after this long. */
  ttlSeconds?: number;
}

/** JSON records: jobs, connections, push state, locks. Never a secret. */
export interface RecordStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, options?: StoreWriteOptions): Promise<void>;
  /** Writes only if the key is absent: true when this call created it. The one atomic step the backend relies on. */
  create(key: string, value: unknown, options?: StoreWriteOptions): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Records whose key starts with `prefix`, at most `limit` (default 100), in key order. */
  query<T>(prefix: string, options?: { limit?: number }): Promise<{ key: string; value: T }[]>;
}

/** What travels on the `connection-jobs` queue: ids only, the job's choices live in its record. */
export type QueueMessage =
  | { type: 'job'; jobId: string }
  | { type: 'sync'; workspaceUuid: string; repositoryUuid: string }
  /** One connection's check, planned by the scheduled trigger. */
  | { type: 'health'; workspaceUuid: string; repositoryUuid: string }
  /** The next batch of a workspace's access-key audit (fleet/audit.ts); its state lives in the record store. */
  | { type: 'fleet-audit'; workspaceUuid: string; auditId: string }
  /** A bulk action's next step (fleet/batch.ts): sent when it starts, when one of its jobs ends, and to wait for the budget. */
  | { type: 'fleet-batch'; workspaceUuid: string; batchId: string };

export interface EnqueueOptions {
  /** Deliver no sooner than this (Forge allows at most 900 s). */
  delaySeconds?: number;
  /**
   * Messages sharing this key are consumed one at a time (Forge's per-key queue concurrency). The
   * platform derives one from the message where it names a repository or a piece of fleet work.
   */
  concurrencyKey?: string;
}

/** How a queue message reached the consumer: which event, and which attempt of it. */
export interface Delivery {
  /** Forge's id of the pushed event, the same on every delivery of it. */
  eventId: string;
  /** 0 for the first attempt; Forge's `retryContext.retryCount` for a redelivery after a timeout or a retry asked for. */
  retryCount: number;
}

/** The key under which the queue runs a message one at a time with others of the same work. */
export function concurrencyKeyOf(message: QueueMessage): string | undefined {
  switch (message.type) {
    case 'sync':
    case 'health':
      return `repo-${message.workspaceUuid}-${message.repositoryUuid}`.replace(/[{}]/g, '');
    case 'fleet-audit':
      return `audit-${message.workspaceUuid}`.replace(/[{}]/g, '');
    case 'fleet-batch':
      return `batch-${message.workspaceUuid}`.replace(/[{}]/g, '');
    case 'job':
      return undefined;
  }
}

/** Forge's longest queue delay. */
export const MAX_QUEUE_DELAY_SECONDS = 900;

/** The Valohai calls the backend makes: the engine's, the set-up check's, plus what the pages need. ValohaiClient fits. */
export interface ValohaiPort extends ValohaiApi, DoctorValohai {
  me(): Promise<ValohaiUser>;
  listProjects(): Promise<Project[]>;
  getProject(id: string): Promise<Project>;
  ownershipOptions(): Promise<string[]>;
  createProject(input: { name: string; owner: string; description?: string }): Promise<Project>;
}

/**
 * How long one outside call may take. Resolvers answer within Forge's 25 s, so their calls get a
 * short budget; queue jobs have 900 s.
 */
export interface CallLimits {
  timeoutMs: number;
  maxAttempts: number;
  maxTotalMs: number;
}

export const RESOLVER_LIMITS: CallLimits = { timeoutMs: 8_000, maxAttempts: 2, maxTotalMs: 10_000 };
export const JOB_LIMITS: CallLimits = { timeoutMs: 60_000, maxAttempts: 5, maxTotalMs: 60_000 };

export type LogFields = Record<string, string | number | boolean | null>;

/** Must never be given a secret: callers pass ids, codes and error class names, nothing a server wrote. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Addresses of the app's own pages, when the platform can build them. */
export interface PageUrls {
  repositorySettings(workspaceSlug: string, repoSlug: string): string | null;
  workspaceSettings(workspaceSlug: string): string | null;
}

/** The Valohai origins manifest.yml's egress lets the deployed app call (src/forge/platform/valohai-hosts.ts). */
export const EGRESS_VALOHAI_ORIGINS: readonly string[] = VALOHAI_EGRESS_HOSTS.map((host) => `https://${host}`);

export interface ForgePlatform {
  secrets: SecretStore;
  store: RecordStore;
  enqueue(message: QueueMessage, options?: EnqueueOptions): Promise<void>;
  /** Bitbucket as the app itself (Forge `asApp()`): reads only. */
  bitbucketAsApp: BitbucketTransport;
  /**
   * Bitbucket as the calling user (Forge `asUser()`), for permission checks. Forge knows the user from
   * the invocation; the preview and the tests pick the user by the context's account id.
   */
  bitbucketAsUser(context: TrustedContext): BitbucketTransport;
  /** Bitbucket with a stored Atlassian API token (Basic `email:token`): what manages access keys. */
  makeBitbucketWithToken(credentials: { email: string; token: string }, limits: CallLimits): BitbucketTransport;
  makeValohai(connection: { host: string; token: string }, limits: CallLimits): ValohaiPort;
  /**
   * The Valohai origins this platform can reach (`https://host`). In Forge, egress fixed at deploy time
   * blocks every other one, so the workspace page refuses to save a host outside these.
   */
  valohaiOrigins: readonly string[];
  generateKey: KeyGenerator;
  clock: Clock;
  log: Logger;
  pageUrls?: PageUrls;
  /**
   * Wraps each resolver call. Forge uses it to let a platform error that the page must see reach it
   * (asUser's "needs consent", on which the page asks the user to allow access), even though the
   * Bitbucket client turns transport failures into its own errors.
   */
  runResolver?<T>(call: () => Promise<T>): Promise<T>;
}
