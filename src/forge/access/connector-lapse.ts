/**
 * Whom work nobody clicked may act for. A scheduled check's repair and an automatic rotation act for the
 * account that made the connection; that account must still be someone the workspace lets connect.
 */
import { accountWorkspaceRole, type BitbucketTransport } from '../../bitbucket/index';
import { bracedUuid } from '../store/keys';
import type { RecordStore } from '../platform/ports';
import { loadTrust } from './trust';

/**
 * Why automatic work may no longer act for `accountId`, or undefined when it still may: it must still be
 * someone the workspace lets connect (a workspace admin, or a member where repository admins may
 * connect; each repository's admin right is then asked target by target). Asked as the app (`asApp`),
 * so it costs the stored token nothing; an answer that does not come stops the automatic change this time.
 */
export async function connectorLapse(store: RecordStore, asApp: BitbucketTransport, workspaceUuid: string, accountId: string): Promise<string | undefined> {
  const trust = await loadTrust(store, workspaceUuid);
  let role: Awaited<ReturnType<typeof accountWorkspaceRole>>;
  try {
    role = await accountWorkspaceRole(asApp, bracedUuid(workspaceUuid, 'workspace'), accountId);
  } catch {
    return 'whether the account that made this connection may still connect repositories here could not be checked, so nothing is changed automatically this time.';
  }
  if (role === 'owner') return undefined;
  if (role === 'none') return 'the account that made this connection is no longer a member of this workspace, so automatic work no longer acts for it.';
  if (trust.connectors === 'repository-admins') return undefined;
  return 'the account that made this connection is no longer allowed to connect repositories here (only workspace admins may), so automatic work no longer acts for it.';
}

/** Who may take over a connection whose automatic work stopped, in the page's words. */
export const TAKE_OVER =
  'Whoever may connect this repository now (a workspace admin, or its admin where repository admins may connect) takes the connection over by rotating it from this page: automatic work then acts for them.';
