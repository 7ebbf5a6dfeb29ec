/**
 * What one queue job works with: the repository, its stored connection, clients made from the
 * workspace's secrets, and the engine's dependencies wired to the record store.
 */
import { RateBudget, type BitbucketClient, type BitbucketTransport } from '../bitbucket/index';
import type { BitbucketApi, DisconnectDeps, WorkflowDeps, WorkflowResult } from '../connect/index';
import { appBitbucket, bitbucketClient, splitFullName, valohaiFor, withAppReads } from './clients';
import { Credentials } from './credentials';
import { bitbucketTokenRefused, failures, isCredentialRefused, valohaiTokenRefused } from './errors';
import { KvConnectionStore, type ConnectionDefaults } from './kv-connection-store';
import { KvLock } from './kv-lock';
import { markMovedAway } from './project-use';
import { JOB_LIMITS, type ForgePlatform, type ValohaiPort } from './platform';
import type { BitbucketSecret, JobRecord, StoredConnection } from './records';
import { jobAuthority, loadTrust } from './trust';
import { ValohaiAuthError } from '../valohai/index';

export class JobContext {
  readonly workspace: string;
  readonly repo: string;
  readonly credentials: Credentials;
  readonly connections: KvConnectionStore;
  readonly app: BitbucketClient;
  /** Tokens this job holds, so that nothing it stores can carry one even if a server echoed it. */
  readonly secrets: string[] = [];
  private valohaiPort: ValohaiPort | undefined;
  private host = '';
  private bitbucketRefused = false;
  private valohaiRefused = false;
  /** The stored token's transport, once made: the trust checks and the budget go with it. */
  private token: BitbucketTransport | undefined;
  private readonly budget = new RateBudget();

  constructor(
    readonly platform: ForgePlatform,
    readonly job: JobRecord,
    defaults: ConnectionDefaults = { submodules: true, projectOwner: null },
  ) {
    ({ workspace: this.workspace, repo: this.repo } = splitFullName(job.repository));
    this.credentials = new Credentials(platform, job.workspaceUuid);
    this.connections = new KvConnectionStore(platform.store, job.workspaceUuid, job.repositoryUuid, defaults);
    this.app = appBitbucket(platform, JOB_LIMITS);
  }

  get now(): Date {
    return this.platform.clock.now();
  }

  /** A project moved here: the connection of the repository it was taken from now says so. */
  async noteProjectMoved(result: WorkflowResult): Promise<void> {
    await markMovedAway(this.platform.store, this.job.workspaceUuid, this.job.repositoryUuid, result.valohai.projectId, {
      repository: result.repository,
      sshUrl: result.sshUrl,
      at: this.now.toISOString(),
    });
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
    this.valohaiPort = watchValohai(valohaiFor(this.platform, secret, JOB_LIMITS), () => {
      this.valohaiRefused = true;
    });
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
        const res = await made.request(req);
        if (res.status === 401) this.bitbucketRefused = true;
        return res;
      },
    };
    this.token = this.budget.watch(noted);
    const token = watchBitbucket(bitbucketClient(this.token, JOB_LIMITS), () => {
      this.bitbucketRefused = true;
    });
    return withAppReads(this.app, token, this.workspace);
  }

  /** The engine's dependencies, with the trust check for the account that started the job. */
  async deps(bitbucket: BitbucketApi): Promise<WorkflowDeps> {
    if (!this.token) throw new Error('JobContext.deps needs tokenBitbucket() first: the trust check asks with the stored token.');
    const trust = await loadTrust(this.platform.store, this.job.workspaceUuid);
    return {
      bitbucket,
      authority: jobAuthority(this.token, { homeWorkspace: this.workspace, accountId: this.job.accountId, trust }),
      budget: this.budget,
      valohai: await this.valohai(),
      generateKey: this.platform.generateKey,
      clock: this.platform.clock,
      store: this.connections,
      lock: new KvLock(this.platform.store, this.platform.clock, this.job.id),
      concurrency: 4,
    };
  }

  /** Disconnect's dependencies: only recorded keys are removed, so no authority; Valohai when a token is stored. */
  async disconnectDeps(bitbucket: BitbucketApi): Promise<DisconnectDeps> {
    const valohai = await this.valohaiIfStored();
    return {
      bitbucket,
      ...(valohai ? { valohai } : {}),
      budget: this.budget,
      generateKey: this.platform.generateKey,
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

  /** Records what the job learnt about the stored tokens; adds the fix to the result. */
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

function watchValohai(port: ValohaiPort, onRefused: () => void): ValohaiPort {
  const watch =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
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
    setRepository: watch(port.setRepository.bind(port)),
    clearRepositoryKey: watch(port.clearRepositoryKey.bind(port)),
    fetchRepository: watch(port.fetchRepository.bind(port)),
    listCommits: watch(port.listCommits.bind(port)),
  };
}
