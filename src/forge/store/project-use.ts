/**
 * One Valohai project, one connection, as the Forge app keeps it: which repository of the workspace
 * each project is connected to (from the connection records), and the mark a moved-away connection
 * gets. Whether a connect may choose a project is access/project-choice.ts.
 */
import { keys } from './keys';
import type { RecordStore } from '../platform/ports';
import type { StoredConnection } from './records';

/** Connections of the workspace, a generous page: a workspace has far fewer connected repositories. */
const MAX_CONNECTIONS = 5000;

export interface ProjectUse {
  repositoryUuid: string;
  /** `workspace/slug` when connected. */
  repository: string;
}

/** Project id → the connection that holds it, other than `exceptRepositoryUuid`'s own. */
export async function projectsInUse(store: RecordStore, workspaceUuid: string, exceptRepositoryUuid: string): Promise<Map<string, ProjectUse>> {
  const connections = await store.query<StoredConnection>(keys.connectionPrefix(workspaceUuid), { limit: MAX_CONNECTIONS });
  const inUse = new Map<string, ProjectUse>();
  for (const { value } of connections) {
    if (value.repositoryUuid === exceptRepositoryUuid || value.movedAway) continue;
    inUse.set(value.record.projectId, { repositoryUuid: value.repositoryUuid, repository: value.record.repository });
  }
  return inUse;
}

/** After a move: the connection that held the project says so, and keeps its keys until its admin disconnects. */
export async function markMovedAway(
  store: RecordStore,
  workspaceUuid: string,
  repositoryUuid: string,
  projectId: string,
  to: { repository: string; sshUrl: string; at: string },
): Promise<void> {
  const holder = (await projectsInUse(store, workspaceUuid, repositoryUuid)).get(projectId);
  if (!holder) return;
  const key = keys.connection(workspaceUuid, holder.repositoryUuid);
  const stored = await store.get<StoredConnection>(key);
  if (!stored || stored.record.projectId !== projectId) return;
  await store.set(key, { ...stored, movedAway: { to: to.repository, fetches: to.sshUrl, at: to.at } });
}

/**
 * The project the app's last disconnect of a repository let go. Valohai keeps its settings' URL after a
 * disconnect, so the project still names the repository: the page does not take that for a connection
 * made elsewhere (pages/other-connection.ts). A connection made with the CLI since is found by the
 * preview and by connect, which list the keys.
 */
export interface Released {
  projectId: string;
  at: string;
}

/**
 * After the app's disconnect: the project it let go, or, when another connection holds Valohai's key
 * (the disconnect left it to that connection), none, so the page says that connection is there.
 */
export function noteReleased(store: RecordStore, workspaceUuid: string, repositoryUuid: string, released: Released | null): Promise<void> {
  const key = keys.released(workspaceUuid, repositoryUuid);
  return released ? store.set(key, released) : store.delete(key);
}

export function loadReleased(store: RecordStore, workspaceUuid: string, repositoryUuid: string): Promise<Released | undefined> {
  return store.get<Released>(keys.released(workspaceUuid, repositoryUuid));
}
