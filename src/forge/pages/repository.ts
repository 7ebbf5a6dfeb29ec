/**
 * The repository settings page's reads: its state machine (not-set-up, running, manual, connected,
 * ready) and the connect preview. Both stay well inside a resolver's 25 s: reads only, short client
 * budgets, independent reads in parallel.
 */
import { discover, type BitbucketApi, type ValohaiProjectInfo } from '../../connect/index';
import { fetchesHere, listOtherConnection, suspectedConnection } from './other-connection';
import { accessKeysUrl, appBitbucket, bitbucketClient, valohaiFor, withAppReads } from '../platform/clients';
import { connectionStatus, storedStatus } from './connection-status';
import type { ConnectPreview, HealthView, OwnershipOption, PreviewConnectPayload, ReadyDetails, RepositoryPage } from '../contract';
import { automationPause, healthView, loadHealth, loadPolicy, tokenExpiryFindings } from '../store/health-records';
import { repositoryAccess, repositoryAdmin } from '../access/authorize';
import { healthForViewer } from './health-disclosure';
import { tokenHourNotice, tokenHourView, tokenUser, withTokenHour } from './token-hour';
import { Credentials } from '../store/credentials';
import { ResolverFailure, valohaiTokenRefused } from '../errors';
import { activeJob } from '../jobs/slots';
import { KvConnectionStore } from '../store/connections';
import { manualTarget } from '../jobs/by-hand';
import { RESOLVER_LIMITS, type ForgePlatform, type TrustedContext, type ValohaiPort } from '../platform/ports';
import { ValohaiAuthError } from '../../valohai/index';
import { loadReleased, projectsInUse } from '../store/project-use';
import type { StoredConnection } from '../store/records';
import { loadLeftByHand } from '../store/left-by-hand';
import { callerAuthority, loadTrust, mayCreateUnder, requireConnector, type Connector } from '../access/trust';

function ownershipOption(value: string): OwnershipOption {
  const [org = value, team] = value.split(':');
  return { value, label: team ? `${org} › team ${team}` : value };
}

interface ReadyContext {
  valohai: ValohaiPort;
  defaultRef: string;
  connector: Connector;
  inUse: Awaited<ReturnType<typeof projectsInUse>>;
  /** This repository's SSH URL and the Valohai host: a project fetching it is a connection made elsewhere. */
  sshUrl: string;
  host: string;
  /** The project the app's last disconnect here let go: Valohai still names the repository, the app's doing. */
  released: string | undefined;
}

async function readyDetails({ valohai, defaultRef, connector, inUse, sshUrl, host, released }: ReadyContext): Promise<ReadyDetails> {
  const [projects, owners] = await Promise.all([valohai.listProjects(), valohai.ownershipOptions()]);
  const sorted = [...projects].sort((a, b) => `${a.owner ?? ''}/${a.name}`.localeCompare(`${b.owner ?? ''}/${b.name}`));
  // From the list read anyway: no stored-token request (other-connection.ts says where else it is looked for).
  const otherConnection = suspectedConnection(sorted, sshUrl, (id) => inUse.has(id) || id === released, host);
  return {
    ...(otherConnection ? { otherConnection } : {}),
    projects: projects
      .map((p) => ({
        id: p.id,
        name: p.name,
        owner: p.owner ?? null,
        repositoryUrl: p.repository?.url || null,
        inUseBy: inUse.get(p.id)?.repository ?? null,
      }))
      .sort((a, b) => `${a.owner ?? ''}/${a.name}`.localeCompare(`${b.owner ?? ''}/${b.name}`)),
    // Repository admins create projects only under the owners a workspace admin allowed.
    ownershipOptions: owners.filter((o) => mayCreateUnder(connector, o)).map(ownershipOption),
    defaultRef,
  };
}

/** The connector, or why this admin may not connect here: asked only when the page would offer Connect. */
async function connectorOrRefusal(platform: ForgePlatform, context: TrustedContext): Promise<Connector | ResolverFailure> {
  try {
    return await requireConnector(platform, context);
  } catch (err) {
    if (err instanceof ResolverFailure) return err;
    throw err;
  }
}

/** What a caller who does not administer the repository sees: its state, and the project's name to ask about. */
function memberPage(page: RepositoryPage, connection: StoredConnection | undefined, running: boolean): RepositoryPage {
  const summary = { projectName: connection?.record.projectName ?? null, movedAway: Boolean(connection?.movedAway) };
  const state = running ? 'running' : connection?.state === 'manual-pending' ? 'manual' : connection ? 'connected' : 'ready';
  return { ...page, state, summary };
}

export async function repositoryPage(platform: ForgePlatform, context: TrustedContext, secrets: string[]): Promise<RepositoryPage> {
  const access = await repositoryAccess(platform, context, { keptOnFailure: true });
  const { repository, workspaceUuid, repositoryUuid } = access;
  const credentials = new Credentials(platform, workspaceUuid);
  const connections = new KvConnectionStore(platform.store, workspaceUuid, repositoryUuid, { submodules: true, projectOwner: null });
  const now = platform.clock.now();
  const [valohaiSecret, bitbucketSecret, connection, running, stored] = await Promise.all([
    credentials.valohai(),
    credentials.usableBitbucket(),
    connections.load(),
    activeJob(platform.store, workspaceUuid, repositoryUuid, now),
    credentials.summary(),
  ]);
  const tokenNotices = tokenExpiryFindings(stored, now).map((f) => ({ message: f.message, fix: f.fix ?? '' }));
  if (bitbucketSecret && access.permission === 'admin') {
    // Said once, with whose token and until when: the page itself needs none of it.
    const hour = tokenHourNotice(await tokenHourView(platform, bitbucketSecret), tokenUser(bitbucketSecret, stored));
    if (hour) tokenNotices.push(hour);
  }
  if (valohaiSecret) secrets.push(valohaiSecret.token);
  if (bitbucketSecret) secrets.push(bitbucketSecret.token);

  const page: RepositoryPage = {
    state: 'ready',
    repository: {
      fullName: repository.fullName,
      mainBranch: repository.mainBranch,
      sshUrl: repository.sshUrl,
      accessKeysUrl: accessKeysUrl(repository.workspace, repository.slug),
    },
    canAdminister: access.permission === 'admin',
    setup: {
      valohai: valohaiSecret !== undefined,
      bitbucket: bitbucketSecret !== undefined,
      ...(bitbucketSecret && access.permission === 'admin' && stored.bitbucket?.workspaceAdmin === false ? { bitbucketNotAdmin: true } : {}),
      workspaceSettingsUrl: platform.pageUrls?.workspaceSettings(repository.workspace) ?? null,
      ...(tokenNotices.length ? { tokenNotices } : {}),
    },
  };
  // Nothing below is read for a caller who does not administer the repository: no Valohai call, no token.
  if (access.permission !== 'admin') return connection || valohaiSecret ? memberPage(page, connection, running !== undefined) : { ...page, state: 'not-set-up' };
  if (running) return { ...page, state: 'running', activeJob: { jobId: running.id, kind: running.kind } };
  const leftByHand = await loadLeftByHand(platform.store, workspaceUuid, repositoryUuid);
  if (leftByHand) page.leftByHand = leftByHand;
  const health = async (c: StoredConnection): Promise<HealthView> => {
    const [record, policy] = await Promise.all([loadHealth(platform.store, workspaceUuid, repositoryUuid), loadPolicy(platform.store, workspaceUuid)]);
    const paused = automationPause(stored, now);
    const view = healthView(record, { now, policy, keyCreatedAt: c.record.createdAt, ...(paused ? { paused } : {}) });
    // The checks read with a workspace admin's token: what they found elsewhere is for who may see it.
    return healthForViewer(platform, context, repository.fullName, view);
  };
  if (!valohaiSecret) {
    // A connection stays visible and removable whatever became of the tokens.
    if (connection?.state === 'connected') return { ...page, state: 'connected', connection: storedStatus(platform, connection, await health(connection)) };
    if (!connection) return { ...page, state: 'not-set-up' };
  }

  try {
    if (connection?.state === 'manual-pending') {
      const { record } = connection;
      return {
        ...page,
        state: 'manual',
        manual: {
          publicKey: connection.publicKeyLine ?? record.publicKey,
          fingerprint: record.fingerprint,
          keyType: record.keyType,
          label: record.label,
          targets: connection.manualTargets,
          project: { id: record.projectId, name: record.projectName },
          ref: record.ref,
          warnings: connection.warnings,
          ...(connection.manualCheck ? { checked: connection.manualCheck } : {}),
        },
      };
    }
    if (!valohaiSecret) return { ...page, state: 'not-set-up' };
    const valohai = valohaiFor(platform, valohaiSecret, RESOLVER_LIMITS);
    if (connection) {
      const status = await connectionStatus(platform, connection, repository, valohai, valohaiSecret.host, await health(connection));
      return { ...page, state: 'connected', connection: status };
    }
    const defaultRef = repository.mainBranch ?? 'main';
    const connector = await connectorOrRefusal(platform, context);
    if (connector instanceof ResolverFailure) {
      return { ...page, state: 'ready', ready: { projects: [], ownershipOptions: [], defaultRef, refusal: { message: connector.message, fix: connector.fix } } };
    }
    const [inUse, released] = await Promise.all([projectsInUse(platform.store, workspaceUuid, repositoryUuid), loadReleased(platform.store, workspaceUuid, repositoryUuid)]);
    const ready = await readyDetails({ valohai, defaultRef, connector, inUse, sshUrl: repository.sshUrl, host: valohaiSecret.host, released: released?.projectId });
    return { ...page, state: 'ready', ready };
  } catch (err) {
    if (err instanceof ValohaiAuthError) await credentials.recordProblem('valohai', valohaiTokenRefused());
    throw err;
  }
}

export async function previewConnect(
  platform: ForgePlatform,
  context: TrustedContext,
  payload: PreviewConnectPayload,
  secrets: string[],
): Promise<ConnectPreview> {
  const { repository, workspaceUuid, repositoryUuid } = await repositoryAdmin(platform, context);
  await requireConnector(platform, context);
  // With a token, read the way connect will (the token may reach submodule repositories of other workspaces, which the app cannot).
  const credentials = new Credentials(platform, workspaceUuid);
  const [token, summary] = await Promise.all([credentials.usableBitbucket(), credentials.summary()]);
  if (token) secrets.push(token.token);
  // The chosen project, when it already fetches this repository and the app holds no connection here:
  // a connection made elsewhere, whose keys are listed below (other-connection.ts).
  const elsewhere = token && payload.projectId ? await madeElsewhere(platform, credentials, repositoryUuid, workspaceUuid, payload.projectId, repository.sshUrl, secrets) : undefined;
  const app = appBitbucket(platform, RESOLVER_LIMITS);
  const discoverWith = (bitbucket: BitbucketApi) =>
    discover(bitbucket, { workspace: repository.workspace, repo: repository.slug, ref: payload.ref, submodules: payload.submodules });
  const { plan, otherConnection } = token
    ? await withTokenHour(platform, token, tokenUser(token, summary), async (transport) => {
        const bitbucket = withAppReads(app, bitbucketClient(transport, RESOLVER_LIMITS), repository.workspace);
        const plan = await discoverWith(bitbucket);
        return { plan, otherConnection: elsewhere ? await listOtherConnection(bitbucket, plan, elsewhere.project, elsewhere.host) : undefined };
      })
    : { plan: await discoverWith(app), otherConnection: undefined };
  // Each target as connect will judge it, asked as the caller: what would be refused is said before it is tried.
  const trust = await loadTrust(platform.store, workspaceUuid);
  const verdicts = await callerAuthority(platform.bitbucketAsUser(context), { homeWorkspace: repository.workspace, trust }).check(plan.targets);
  const refusals = verdicts.filter((v) => !v.allowed).map((v) => ({ code: 'not-authorised' as const, repository: v.repository, message: `${v.repository}: ${v.message ?? 'not allowed.'} Connect refuses it; connect this repository only (without submodules) to leave it out.` }));
  return {
    ref: plan.ref,
    headCommit: plan.headCommit,
    sshUrl: plan.repository.sshUrl,
    targets: plan.targets.map(manualTarget),
    warnings: [...refusals, ...plan.warnings],
    ...(otherConnection ? { otherConnection } : {}),
  };
}

/**
 * The project the preview was given, when Valohai says it fetches this repository and no connection of
 * the app holds this repository or the project. One Valohai request; a project Valohai cannot show is
 * no connection found (the connect that follows looks again, with the keys).
 */
async function madeElsewhere(
  platform: ForgePlatform,
  credentials: Credentials,
  repositoryUuid: string,
  workspaceUuid: string,
  projectId: string,
  sshUrl: string,
  secrets: string[],
): Promise<{ project: ValohaiProjectInfo; host: string } | undefined> {
  const connections = new KvConnectionStore(platform.store, workspaceUuid, repositoryUuid, { submodules: true, projectOwner: null });
  const [secret, connection, inUse] = await Promise.all([credentials.valohai(), connections.load(), projectsInUse(platform.store, workspaceUuid, repositoryUuid)]);
  if (!secret || connection || inUse.has(projectId)) return undefined;
  secrets.push(secret.token);
  const project = await valohaiFor(platform, secret, RESOLVER_LIMITS)
    .findProject(projectId)
    .catch((err: unknown) => {
      if (err instanceof ValohaiAuthError) throw err;
      return undefined;
    });
  return project && fetchesHere(project, sshUrl) ? { project, host: secret.host } : undefined;
}
