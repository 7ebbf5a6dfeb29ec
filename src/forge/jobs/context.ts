/**
 * What one queue job works with: the repository, its stored connection, clients made from the
 * workspace's secrets, and the engine's dependencies wired to the record store.
 */
import {
  BitbucketRateLimitError,
  countRequests,
  hooked,
  meterRequests,
  noteRefusal,
  TokenHourSpentError,
  type BitbucketClient,
  type BitbucketHooks,
  type BitbucketTransport,
  type Spender,
  type TokenMeter,
} from '../../bitbucket/index';
import { watchMethods, type MethodCall, type RequestHooks } from '../../http/hooks';
import type { Authority, BitbucketApi, DisconnectDeps, KeyGenerator, RequestBudget, WorkflowDeps, WorkflowResult } from '../../connect/index';
import { openTokenMeter } from '../store/token-ledger';
import { bitbucketClient, splitFullName, valohaiFor, withAppReads } from '../platform/clients';
import { Credentials } from '../store/credentials';
import { bitbucketTokenRefused, failures, valohaiTokenRefused } from '../errors';
import { KvConnectionStore, type ConnectionDefaults } from '../store/connections';
import { KvLock } from '../store/lock';
import { markMovedAway } from '../store/project-use';
import { JOB_LIMITS, type ForgePlatform, type ValohaiPort } from '../platform/ports';
import type { BitbucketSecret, JobRecord, StoredConnection } from '../store/records';
import { jobAuthority, loadTrust } from '../access/trust';
import { ValohaiAuthError } from '../../valohai/index';

/** Requests one piece of work made, by where they went: what a check records it spent. */
export interface RequestCounts {
  /** Bitbucket with the stored API token (the workspace's ~1,000 an hour). */
  bitbucketToken: number;
  /** Bitbucket as the app (Forge counts these apart from the token's). */
  bitbucketApp: number;
  valohai: number;
}

/**
 * The share of the stored token's requests a piece of work was given is spent: it stops before sending
 * one more, and what it could not do waits for the next check.
 */
export class TokenShareSpentError extends BitbucketRateLimitError {
  constructor(readonly limit: number) {
    super(`This work may spend at most ${limit} requests of the stored Bitbucket API token, and has: the rest waits for the next check.`, {
      status: 429,
      code: 'rate_limited',
      retryable: false,
    });
  }
}

/**
 * Work done with the workspace's stored tokens, by a job someone started or by automatic work: the
 * clients made from the secrets, every request counted, and a refusal (401) remembered so that
 * `settleCredentials` records it for the pages.
 */
export class StoredTokenWork {
  readonly credentials: Credentials;
  /** Bitbucket as the app, every request counted. */
  readonly asApp: BitbucketTransport;
  readonly app: BitbucketClient;
  /**
   * Tokens and private keys this work holds, so that nothing it stores can carry one, or any piece of a
   * key, even if a server echoed it. In memory only, for the work's life.
   */
  readonly secrets: string[] = [];
  readonly counts: RequestCounts = { bitbucketToken: 0, bitbucketApp: 0, valohai: 0 };
  /**
   * Whose work this is, for the token's hour: a person's click ('interactive') may use all of it; work
   * with nobody at the keyboard ('unattended') its share.
   */
  spender: Spender = 'interactive';
  /** The token user's hour, read when the stored token is first taken, written as the work goes. */
  meter: TokenMeter | undefined;
  /** What the engine asks before a plan's writes: what the hour has left for this work, and when more fits. */
  readonly budget: RequestBudget = {
    remaining: () => this.meter?.remaining(),
    fitsAt: (needed) => this.meter?.fitsAt(needed) ?? null,
  };
  private valohaiPort: ValohaiPort | undefined;
  private host = '';
  private bitbucketRefused = false;
  private valohaiRefused = false;
  /** The stored token's transport, once made: the trust checks and the budget go with it. */
  protected token: BitbucketTransport | undefined;
  /**
   * Set when the token's hour stopped a request: Bitbucket answered 429 (the meter's back-off), or the
   * ledger refused to send it. When automatic work may try again.
   */
  rateLimitedUntil: Date | null = null;
  /** At most this many stored-token requests (TokenShareSpentError past it); unlimited when undefined. */
  tokenLimit: number | undefined;

  constructor(
    readonly platform: ForgePlatform,
    readonly workspaceUuid: string,
    /** The slug of the app's own workspace: its repositories are read as the app. */
    readonly workspace: string,
  ) {
    this.credentials = new Credentials(platform, workspaceUuid);
    this.asApp = hooked(platform.bitbucketAsApp, countRequests(() => this.counts.bitbucketApp++));
    this.app = bitbucketClient(this.asApp, JOB_LIMITS);
  }

  /**
   * What every request with the stored Bitbucket token passes through, in this order: the share's limit
   * (before anything is counted), the count, a refusal of the token, a 429's wait, the rate-limit headers.
   */
  protected tokenHooks(): BitbucketHooks[] {
    return [
      { before: () => this.refuseOverShare() },
      ...(this.meter ? [this.meteredNoting(this.meter)] : []),
      countRequests(() => this.counts.bitbucketToken++),
      noteRefusal(() => {
        this.bitbucketRefused = true;
      }),
      {
        after: (_req, res) => {
          if (res.status === 429) this.rateLimitedUntil = this.meter?.tooManyUntil() ?? new Date(this.now.getTime() + 60_000);
        },
      },
    ];
  }

  /** The ledger's hook, a refusal by it noted in `rateLimitedUntil`. */
  private meteredNoting(meter: TokenMeter): BitbucketHooks {
    const metered = meterRequests(meter);
    return {
      before: async (req) => {
        try {
          await metered.before?.(req);
        } catch (err) {
          if (err instanceof TokenHourSpentError) this.rateLimitedUntil = err.until ?? new Date(this.now.getTime() + 3_600_000);
          throw err;
        }
      },
      after: (req, res) => metered.after?.(req, res),
    };
  }

  /** What every call of the stored Valohai token's client passes through, in this order: the count, a refusal of the token. */
  protected valohaiHooks(): RequestHooks<MethodCall, unknown>[] {
    return [
      // Each port call is one request to Valohai: that is what is counted.
      { before: () => void this.counts.valohai++ },
      {
        failed: (_call, err) => {
          if (err instanceof ValohaiAuthError) this.valohaiRefused = true;
        },
      },
    ];
  }

  private refuseOverShare(): void {
    if (this.tokenLimit !== undefined && this.counts.bitbucketToken >= this.tokenLimit) throw new TokenShareSpentError(this.tokenLimit);
  }

  /**
   * The platform's key generator, every private key it makes joining `secrets`: the engine and the manual
   * mode make their keys here, so whatever a server quotes of one is scrubbed from jobs and health records.
   */
  readonly generateKey: KeyGenerator = async (options) => {
    const key = await this.platform.generateKey(options);
    this.secrets.push(key.privateKey);
    return key;
  };

  get now(): Date {
    return this.platform.clock.now();
  }

  /** Whether Bitbucket or Valohai refused a stored token during this work. */
  get refused(): { bitbucket: boolean; valohai: boolean } {
    return { bitbucket: this.bitbucketRefused, valohai: this.valohaiRefused };
  }

  get valohaiHost(): string {
    return this.host;
  }

  /** The Valohai client of the workspace's stored token; a refused token is remembered for the pages. */
  async valohai(): Promise<ValohaiPort> {
    if (this.valohaiPort) return this.valohaiPort;
    const secret = await this.credentials.valohai();
    if (!secret) throw failures.valohaiNotSetUp();
    this.secrets.push(secret.token);
    this.host = secret.host;
    this.valohaiPort = watchMethods(valohaiFor(this.platform, secret, JOB_LIMITS), ...this.valohaiHooks());
    return this.valohaiPort;
  }

  /** The Valohai client, or undefined when no Valohai token is stored: disconnect goes on without it. */
  async valohaiIfStored(): Promise<ValohaiPort | undefined> {
    return (await this.credentials.valohai()) ? this.valohai() : undefined;
  }

  /** The stored API token, or undefined when there is none that works. */
  async bitbucketSecret(): Promise<BitbucketSecret | undefined> {
    const secret = await this.credentials.usableBitbucket();
    if (secret) {
      this.secrets.push(secret.token);
      this.meter ??= await openTokenMeter(this.platform.store, this.platform.clock, secret, this.spender);
    }
    return secret;
  }

  /** Writes what the work spent of the token's hour (a step's end, the work's end); never fails the work. */
  async flushMeter(): Promise<void> {
    await this.meter?.flush().catch((err: unknown) => this.platform.log.warn('token hour not written', { error: err instanceof Error ? err.name : typeof err }));
  }

  /**
   * Bitbucket with the API token (repositories of this workspace read as the app); a refused token is
   * remembered, so the page offers the manual path.
   */
  tokenBitbucket(secret: BitbucketSecret): BitbucketApi {
    const made = this.platform.makeBitbucketWithToken({ email: secret.email, token: secret.token }, JOB_LIMITS);
    // The trust check asks with this transport too: a refusal there is the token's refusal.
    this.token = hooked(made, ...this.tokenHooks());
    const token = bitbucketClient(this.token, JOB_LIMITS);
    return withAppReads(this.app, token, this.workspace);
  }

  /** The trust check for `accountId`, asked with the stored token (tokenBitbucket() first). */
  protected async authorityFor(accountId: string): Promise<Authority> {
    if (!this.token) throw new Error('The trust check asks with the stored token: call tokenBitbucket() first.');
    const trust = await loadTrust(this.platform.store, this.workspaceUuid);
    return jobAuthority(this.token, { homeWorkspace: this.workspace, accountId, trust });
  }

  /** The engine's dependencies for work on one repository, its lock held by `holder`. */
  protected engineDeps(bitbucket: BitbucketApi, authority: Authority, valohai: ValohaiPort, store: KvConnectionStore, holder: string): WorkflowDeps {
    return {
      bitbucket,
      authority,
      budget: this.budget,
      valohai,
      generateKey: this.generateKey,
      clock: this.platform.clock,
      store,
      lock: new KvLock(this.platform.store, this.platform.clock, holder),
      concurrency: 4,
    };
  }

  /** Records what the work learnt about the stored tokens; adds the fix to the result. */
  async settleCredentials(result: WorkflowResult | undefined): Promise<void> {
    if (this.bitbucketRefused) {
      const problem = bitbucketTokenRefused();
      await this.credentials.recordProblem('bitbucket', problem);
      if (result) result.error = `${result.error ?? ''}\n${problem.message} ${problem.fix}`.trim();
    }
    if (this.valohaiRefused) {
      const problem = valohaiTokenRefused();
      await this.credentials.recordProblem('valohai', problem);
      if (result) result.error = `${result.error ?? ''}\n${problem.fix}`.trim();
    }
  }
}

export class JobContext extends StoredTokenWork {
  readonly repo: string;
  readonly connections: KvConnectionStore;

  constructor(
    platform: ForgePlatform,
    readonly job: JobRecord,
    defaults: ConnectionDefaults = { submodules: true, projectOwner: null },
  ) {
    const { workspace, repo } = splitFullName(job.repository);
    super(platform, job.workspaceUuid, workspace);
    // The key-age policy's rotations and every item of a bulk action run with nobody at the keyboard.
    if ((job.input.kind === 'rotate' && job.input.automatic === true) || job.batchId !== undefined) this.spender = 'unattended';
    this.repo = repo;
    this.connections = new KvConnectionStore(platform.store, job.workspaceUuid, job.repositoryUuid, defaults);
  }

  /** A project moved here: the connection of the repository it was taken from now says so. */
  async noteProjectMoved(result: WorkflowResult): Promise<void> {
    await markMovedAway(this.platform.store, this.job.workspaceUuid, this.job.repositoryUuid, result.valohai.projectId, {
      repository: result.repository,
      sshUrl: result.sshUrl,
      at: this.now.toISOString(),
    });
  }

  /** The engine's dependencies, with the trust check for the account that started the job. */
  async deps(bitbucket: BitbucketApi): Promise<WorkflowDeps> {
    if (!this.token) throw new Error('JobContext.deps needs tokenBitbucket() first: the trust check asks with the stored token.');
    return this.engineDeps(bitbucket, await this.authorityFor(this.job.accountId), await this.valohai(), this.connections, this.job.id);
  }

  /** Disconnect's dependencies: only recorded keys are removed, so no authority; Valohai when a token is stored. */
  async disconnectDeps(bitbucket: BitbucketApi): Promise<DisconnectDeps> {
    const valohai = await this.valohaiIfStored();
    return {
      bitbucket,
      ...(valohai ? { valohai } : {}),
      budget: this.budget,
      generateKey: this.generateKey,
      clock: this.platform.clock,
      store: this.connections,
      lock: new KvLock(this.platform.store, this.platform.clock, this.job.id),
      concurrency: 4,
    };
  }

  loadConnection(): Promise<StoredConnection | undefined> {
    return this.connections.load();
  }

  async requireConnection(): Promise<StoredConnection> {
    const connection = await this.connections.load();
    if (!connection) throw failures.notConnected();
    return connection;
  }
}
