/**
 * The repository page's actions. Each checks, in this order, that the caller administers the
 * repository, that the workspace is set up, and that the repository is in a state where the action
 * makes sense; then it takes the repository's job slot and returns the job id at once. The work runs
 * on the queue (jobs/runner.ts): no key generation and no fetch happen inside a resolver.
 */
import { authorise, checkGivenPublicKey, discover, GivenKeyError } from '../../connect/index';
import { InvalidPayloadError, type JobStarted, type JobView, type StartConnectPayload, type StartRotatePayload } from '../contract';
import { repositoryAdmin, type RepositoryAccess } from '../access/authorize';
import { Credentials } from '../store/credentials';
import { failures, ResolverFailure } from '../errors';
import { jobView, loadJob, startJob } from '../jobs/slots';
import { KvConnectionStore } from '../store/connections';
import { appBitbucket } from '../platform/clients';
import { bareUuid } from '../store/keys';
import { RESOLVER_LIMITS, type ForgePlatform, type TrustedContext } from '../platform/ports';
import type { JobInput, JobRecord, StoredConnection } from '../store/records';
import { checkProjectChoice } from '../access/project-choice';
import { callerAuthority, requireConnector, type Connector } from '../access/trust';
import { dismissLeftByHand } from '../store/left-by-hand';

interface Preconditions {
  access: RepositoryAccess;
  credentials: Credentials;
  connection: StoredConnection | undefined;
  connector: Connector;
}

async function prepare(platform: ForgePlatform, context: TrustedContext, options: { valohaiOptional?: boolean } = {}): Promise<Preconditions> {
  const access = await repositoryAdmin(platform, context);
  const connector = await requireConnector(platform, context);
  const credentials = new Credentials(platform, access.workspaceUuid);
  const connections = new KvConnectionStore(platform.store, access.workspaceUuid, access.repositoryUuid, { submodules: true, projectOwner: null });
  const [valohai, connection] = await Promise.all([credentials.valohai(), connections.load()]);
  if (!valohai && !options.valohaiOptional) throw failures.valohaiNotSetUp();
  return { access, credentials, connection, connector };
}

async function enqueue(platform: ForgePlatform, context: TrustedContext, pre: Preconditions, input: JobInput): Promise<JobStarted> {
  const job = await startJob(platform, {
    workspaceUuid: pre.access.workspaceUuid,
    repositoryUuid: pre.access.repositoryUuid,
    repository: pre.access.repository.fullName,
    accountId: context.accountId,
    input,
  });
  platform.log.info('job queued', { jobId: job.id, kind: job.kind });
  return { jobId: job.id };
}

function movedAwayFirst(): ResolverFailure {
  return new ResolverFailure(
    'already-connected',
    "This repository's Valohai project was moved to another repository, and its access keys are still in place.",
    'Disconnect first to remove them, then connect again.',
  );
}

function requireConnected(connection: StoredConnection | undefined): StoredConnection {
  if (!connection) throw failures.notConnected();
  if (connection.movedAway) {
    throw new ResolverFailure(
      'not-connected',
      `This repository's Valohai project now fetches ${connection.movedAway.to}: this connection's key is no longer used.`,
      'Disconnect to remove its access keys, then connect again to another project if Valohai should fetch this repository.',
    );
  }
  if (connection.state === 'manual-pending') {
    throw new ResolverFailure(
      'not-connected',
      'The key for connecting by hand has not been verified yet.',
      'Add the public key on each repository listed on the page, then choose Verify.',
    );
  }
  return connection;
}

async function requireToken(pre: Preconditions): Promise<void> {
  if (!(await pre.credentials.usableBitbucket())) throw failures.bitbucketNotSetUp();
}

/** The whole check of a public key made in Valohai, before it is stored anywhere (the job's input). */
function checkPublicKey(resolver: 'startConnect' | 'startRotate', publicKey: string): void {
  try {
    checkGivenPublicKey(publicKey);
  } catch (err) {
    if (!(err instanceof GivenKeyError)) throw err;
    throw new InvalidPayloadError(resolver, 'publicKey', `cannot be used: ${err.message.replace(/^The public key from Valohai cannot be used: /, '').replace(/\.$/, '')}`, true);
  }
}

/**
 * Connect, and Adopt (`choices.adopt`: the same connect, taking over a connection made with the CLI):
 * taking over moves Valohai to a key of the app's, so it asks exactly what a connect asks.
 */
export async function startConnect(platform: ForgePlatform, context: TrustedContext, choices: StartConnectPayload): Promise<JobStarted> {
  const pre = await prepare(platform, context);
  if (pre.connection && !pre.connection.movedAway) throw failures.alreadyConnected(pre.connection.state === 'manual-pending' ? 'manual' : 'connected');
  if (pre.connection) throw movedAwayFirst();
  await requireToken(pre);
  if (choices.publicKey !== undefined) checkPublicKey('startConnect', choices.publicKey);
  await checkProjectChoice(platform.store, pre.access.workspaceUuid, pre.access.repositoryUuid, choices, pre.connector);
  return enqueue(platform, context, pre, { kind: 'connect', choices });
}

/**
 * The manual connect's "on what" check, made here because only here is there a person to ask: the queue
 * job has neither the caller nor a stored token. Every repository the key would go on is put to the
 * caller's own authority, as connect's job does with the stored token; a refusal is connect's refusal.
 * The job gets the names that passed and discovers again: a repository not among them is refused there.
 */
async function authoriseManualTargets(platform: ForgePlatform, context: TrustedContext, pre: Preconditions, choices: StartConnectPayload): Promise<string[]> {
  const { repository } = pre.access;
  const plan = await discover(appBitbucket(platform, RESOLVER_LIMITS), {
    workspace: repository.workspace,
    repo: repository.slug,
    ref: choices.ref,
    submodules: choices.submodules,
  });
  const authority = callerAuthority(platform.bitbucketAsUser(context), { homeWorkspace: repository.workspace, trust: pre.connector.trust });
  await authorise(authority, plan.targets);
  return plan.targets.map((t) => t.key);
}

export async function startManualConnect(platform: ForgePlatform, context: TrustedContext, choices: StartConnectPayload): Promise<JobStarted> {
  const pre = await prepare(platform, context);
  if (pre.connection && !pre.connection.movedAway) throw failures.alreadyConnected(pre.connection.state === 'manual-pending' ? 'manual' : 'connected');
  if (pre.connection) throw movedAwayFirst();
  await checkProjectChoice(platform.store, pre.access.workspaceUuid, pre.access.repositoryUuid, choices, pre.connector);
  const authorised = await authoriseManualTargets(platform, context, pre, choices);
  return enqueue(platform, context, pre, { kind: 'manual-connect', choices, authorised });
}

export async function verifyManual(platform: ForgePlatform, context: TrustedContext): Promise<JobStarted> {
  const pre = await prepare(platform, context);
  if (!pre.connection) throw failures.notConnected();
  if (pre.connection.state !== 'manual-pending') {
    throw new ResolverFailure('already-connected', 'This repository is already connected and verified.', 'Use Verify on the connection to check it again.');
  }
  return enqueue(platform, context, pre, { kind: 'manual-verify' });
}

export async function startRotate(platform: ForgePlatform, context: TrustedContext, choices: StartRotatePayload): Promise<JobStarted> {
  const pre = await prepare(platform, context);
  requireConnected(pre.connection);
  await requireToken(pre);
  if (choices.publicKey !== undefined) checkPublicKey('startRotate', choices.publicKey);
  else if (pre.connection?.record.keySource === 'valohai') {
    throw new InvalidPayloadError('startRotate', 'publicKey', 'is needed: this connection\'s key was made in Valohai. Generate a new key in Valohai, then paste its public half here', true);
  }
  return enqueue(platform, context, pre, { kind: 'rotate', choices });
}

export async function startDisconnect(platform: ForgePlatform, context: TrustedContext): Promise<JobStarted> {
  // A connection stays removable whatever became of the tokens: without Valohai's, its keys still go.
  const pre = await prepare(platform, context, { valohaiOptional: true });
  if (!pre.connection) throw failures.notConnected();
  // A key waiting to be added by hand is discarded, not "disconnected": the page names it so.
  return enqueue(platform, context, pre, { kind: pre.connection.state === 'manual-pending' ? 'manual-discard' : 'disconnect' });
}

export async function startVerify(platform: ForgePlatform, context: TrustedContext): Promise<JobStarted> {
  const pre = await prepare(platform, context);
  requireConnected(pre.connection);
  return enqueue(platform, context, pre, { kind: 'verify' });
}

/** The admin removed by hand the keys a disconnect without an API token left: the page stops listing them. */
export async function dismissLeftByHandKeys(platform: ForgePlatform, context: TrustedContext): Promise<{ dismissed: boolean }> {
  const { workspaceUuid, repositoryUuid } = await repositoryAdmin(platform, context);
  return { dismissed: await dismissLeftByHand(platform.store, workspaceUuid, repositoryUuid) };
}

/** A job of this repository only: another repository's job id is "not found", whoever asks. */
export async function getJob(platform: ForgePlatform, context: TrustedContext, jobId: string): Promise<JobView> {
  const job = await loadJob(platform.store, jobId);
  // Progress polls cost Bitbucket nothing for the person who started the job: they were checked as the
  // repository's admin when it started, and Forge's context names the same person and repository.
  if (job && startedBy(job, context)) return jobView(job, platform.clock.now());
  // Anyone else: a job's steps and result name every repository it touched, so for the repository's admins only.
  const access = await repositoryAdmin(platform, context);
  if (!job || job.workspaceUuid !== access.workspaceUuid || job.repositoryUuid !== access.repositoryUuid) throw failures.jobNotFound();
  return jobView(job, platform.clock.now());
}

function startedBy(job: JobRecord, context: TrustedContext): boolean {
  if (!context.repositoryUuid || job.accountId !== context.accountId) return false;
  return job.workspaceUuid === bareUuid(context.workspaceId, 'workspace') && job.repositoryUuid === bareUuid(context.repositoryUuid, 'repository');
}
