/**
 * The engine's dependencies for work nobody clicked (a scheduled check, a push): built from the
 * connection's stored record alone. The stored API token is a workspace admin's, lent to the app, and
 * nobody is present to answer for what is done with it, so the trust check asks Bitbucket about the
 * account that made the connection (`connectedBy`), repository by repository. A connection that does
 * not record its maker may have nothing added: every target that needs a key is refused, with why.
 */
import { accountWorkspaceRole } from '../../bitbucket/index';
import type { Authority, BitbucketApi, WorkflowDeps } from '../../connect/index';
import { splitFullName } from '../platform/clients';
import { counted, StoredTokenWork } from '../jobs/context';
import { bracedUuid } from '../store/keys';
import { KvConnectionStore } from '../store/connections';
import type { ForgePlatform } from '../platform/ports';
import type { StoredConnection } from '../store/records';
import { loadTrust } from '../access/trust';

export const NO_MAKER_REASON =
  'the connection does not record who made it, so no automatic change may be made for anyone. An admin of it must add the key, or rotate the connection from its repository page.';

/** Refuses every target: nobody's permission covers an automatic change. */
export function nobodysAuthority(message: string): Authority {
  return {
    check: async (targets) => targets.map((t) => ({ repository: `${t.workspace}/${t.slug}`, allowed: false, reason: 'not-admin' as const, message })),
  };
}

/**
 * Why automatic work may no longer act for `accountId`, or undefined when it still may: it must still be
 * someone the workspace lets connect (a workspace admin, or a member where repository admins may
 * connect; each repository's admin right is then asked target by target). Asked as the app, so it costs
 * the stored token nothing; an answer that does not come stops the automatic change this time.
 */
export async function connectorLapse(platform: ForgePlatform, workspaceUuid: string, accountId: string, onRequest: () => void = () => {}): Promise<string | undefined> {
  const trust = await loadTrust(platform.store, workspaceUuid);
  let role: Awaited<ReturnType<typeof accountWorkspaceRole>>;
  try {
    role = await accountWorkspaceRole(counted(platform.bitbucketAsApp, onRequest), bracedUuid(workspaceUuid, 'workspace'), accountId);
  } catch {
    return 'whether the account that made this connection may still connect repositories here could not be checked, so nothing is changed automatically this time.';
  }
  if (role === 'owner') return undefined;
  if (role === 'none') return 'the account that made this connection is no longer a member of this workspace, so automatic work no longer acts for it.';
  if (trust.connectors === 'repository-admins') return undefined;
  return 'the account that made this connection is no longer allowed to connect repositories here (only workspace admins may), so automatic work no longer acts for it.';
}

/** Refuses every target, with why, when the account automatic work acts for may no longer connect. */
export function gatedAuthority(authority: Authority, lapse: string | undefined): Authority {
  if (!lapse) return authority;
  return nobodysAuthority(lapse);
}

/** Who may take over a connection whose automatic work stopped, in the page's words. */
export const TAKE_OVER =
  'Whoever may connect this repository now (a workspace admin, or its admin where repository admins may connect) takes the connection over by rotating it from this page: automatic work then acts for them.';

export class AutomaticWork extends StoredTokenWork {
  readonly repo: string;
  readonly connections: KvConnectionStore;

  /** `holder` names this run in the repository's lock. */
  constructor(
    platform: ForgePlatform,
    readonly connection: StoredConnection,
    private readonly holder: string,
  ) {
    const { workspace, repo } = splitFullName(connection.record.repository);
    super(platform, connection.workspaceUuid, workspace);
    this.repo = repo;
    this.connections = new KvConnectionStore(platform.store, connection.workspaceUuid, connection.repositoryUuid, {
      submodules: connection.submodules,
      projectOwner: null,
    });
  }

  /** The account automatic work acts for, or null when the connection does not say. */
  get actingFor(): string | null {
    return typeof this.connection.connectedBy === 'string' && this.connection.connectedBy ? this.connection.connectedBy : null;
  }

  /** Bitbucket with the stored token (this workspace's repositories read as the app), or undefined when no usable token is stored. */
  async bitbucket(): Promise<BitbucketApi | undefined> {
    const secret = await this.bitbucketSecret();
    return secret ? this.tokenBitbucket(secret) : undefined;
  }

  /** Why automatic work may no longer act for the connection's maker (connectorLapse), asked as the app. */
  async lapse(): Promise<string | undefined> {
    const maker = this.actingFor;
    if (!maker) return NO_MAKER_REASON;
    return connectorLapse(this.platform, this.workspaceUuid, maker, () => this.counts.bitbucketApp++);
  }

  /** The engine's dependencies: the trust check is the recorded maker's (refusing all when `lapse` says why), the lock the repository's. */
  async deps(bitbucket: BitbucketApi, lapse?: string): Promise<WorkflowDeps> {
    const maker = this.actingFor;
    const authority = maker ? gatedAuthority(await this.authorityFor(maker), lapse) : nobodysAuthority(NO_MAKER_REASON);
    return this.engineDeps(bitbucket, authority, await this.valohai(), this.connections, this.holder);
  }
}
