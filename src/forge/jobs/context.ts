/**
 * What one queue job works with: the repository, its stored connection, clients made from the
 * workspace's secrets, and the engine's dependencies wired to the record store.
 */
import { BitbucketRateLimitError, RateBudget, type BitbucketClient, type BitbucketTransport } from '../../bitbucket/index';
import type { Authority, BitbucketApi, DisconnectDeps, KeyGenerator, WorkflowDeps, WorkflowResult } from '../../connect/index';
import { bitbucketClient, splitFullName, valohaiFor, withAppReads } from '../platform/clients';
import { Credentials } from '../store/credentials';
import { bitbucketTokenRefused, failures, isCredentialRefused, valohaiTokenRefused } from '../errors';
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
  readonly app: BitbucketClient;
  /**
   * Tokens and private keys this work holds, so that nothing it stores can carry one, or any piece of a
   * key, even if a server echoed it. In memory only, for the work's life.
   */
  readonly secrets: string[] = [];
  readonly counts: RequestCounts = { bitbucketToken: 0, bitbucketApp: 0, valohai: 0 };
  readonly budget = new RateBudget();
  private valohaiPort: ValohaiPort | undefined;
  private host = '';
  private bitbucketRefused = false;
  private valohaiRefused = false;
  /** The stored token's transport, once made: the trust checks and the budget go with it. */
  protected token: BitbucketTransport | undefined;
  /** Set when Bitbucket answered the stored token 429: when it lets the token in again (Retry-After, else the hour). */
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
    this.app = bitbucketClient(counted(platform.bitbucketAsApp, () => this.counts.bitbucketApp++), JOB_LIMITS);
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
    this.valohaiPort = watchValohai(
      valohaiFor(this.platform, secret, JOB_LIMITS),
      () => {
        this.valohaiRefused = true;
      },
      () => this.counts.valohai++,
    );
    return this.valohaiPort;
  }

  /** The Valohai client, or undefined when no Valohai token is stored: disconnect goes on without it. */
  async valohaiIfStored(): Promise<ValohaiPort | undefined> {
    return (await this.credentials.valohai()) ? this.valohai() : undefined;
  }

  /** The stored API token, or undefined when there is none that works. */
  async bitbucketSecret(): Promise<BitbucketSecret | undefined> {
    const secret = await this.credentials.usableBitbucket();
    if (secret) this.secrets.push(secret.token);
    return secret;
  }

  /**
   * Bitbucket with the API token (repositories of this workspace read as the app); a refused token is
   * remembered, so the page offers the manual path.
   */
  tokenBitbucket(secret: BitbucketSecret): BitbucketApi {
    const made = this.platform.makeBitbucketWithToken({ email: secret.email, token: secret.token }, JOB_LIMITS);
    // The trust check asks with the bare transport: a 401 there is the token's refusal too.
    const noted: BitbucketTransport = {
      ...(made.baseUrl !== undefined ? { baseUrl: made.baseUrl } : {}),
      request: async (req) => {
        if (this.tokenLimit !== undefined && this.counts.bitbucketToken >= this.tokenLimit) throw new TokenShareSpentError(this.tokenLimit);
        this.counts.bitbucketToken++;
        const res = await made.request(req);
        if (res.status === 401) this.bitbucketRefused = true;
        if (res.status === 429) {
          const after = Number.parseInt(res.headers['retry-after'] ?? '', 10);
          this.rateLimitedUntil = new Date(this.now.getTime() + (Number.isFinite(after) && after > 0 ? after * 1000 : 3_600_000));
        }
        return res;
      },
    };
    this.token = this.budget.watch(noted);
    const token = watchBitbucket(bitbucketClient(this.token, JOB_LIMITS), () => {
      this.bitbucketRefused = true;
    });
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

/** A transport that reports each request it sends. */
export function counted(transport: BitbucketTransport, onRequest: () => void): BitbucketTransport {
  return {
    ...(transport.baseUrl !== undefined ? { baseUrl: transport.baseUrl } : {}),
    request: (req) => {
      onRequest();
      return transport.request(req);
    },
  };
}

function watchBitbucket(api: BitbucketApi, onRefused: () => void): BitbucketApi {
  const watch =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        if (isCredentialRefused(err)) onRefused();
        throw err;
      }
    };
  return {
    getRepository: watch(api.getRepository.bind(api)),
    getBranchHead: watch(api.getBranchHead.bind(api)),
    getFileAtCommit: watch(api.getFileAtCommit.bind(api)),
    listAccessKeys: watch(api.listAccessKeys.bind(api)),
    addAccessKey: watch(api.addAccessKey.bind(api)),
    deleteAccessKey: watch(api.deleteAccessKey.bind(api)),
  };
}

function watchValohai(port: ValohaiPort, onRefused: () => void, onCall: () => void): ValohaiPort {
  // Each port call is one request to Valohai: that is what is counted.
  const watch =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      onCall();
      try {
        return await fn(...args);
      } catch (err) {
        if (err instanceof ValohaiAuthError) onRefused();
        throw err;
      }
    };
  return {
    me: watch(port.me.bind(port)),
    listProjects: watch(port.listProjects.bind(port)),
    getProject: watch(port.getProject.bind(port)),
    ownershipOptions: watch(port.ownershipOptions.bind(port)),
    createProject: watch(port.createProject.bind(port)),
    findProject: watch(port.findProject.bind(port)),
    checkRepositoryWrite: watch(port.checkRepositoryWrite.bind(port)),
    setRepository: watch(port.setRepository.bind(port)),
    clearRepositoryKey: watch(port.clearRepositoryKey.bind(port)),
    fetchRepository: watch(port.fetchRepository.bind(port)),
    listCommits: watch(port.listCommits.bind(port)),
    projectsPage: watch(port.projectsPage.bind(port)),
    repositoryMetadata: watch(port.repositoryMetadata.bind(port)),
    fetchRouteMetadata: watch(port.fetchRouteMetadata.bind(port)),
  };
}
