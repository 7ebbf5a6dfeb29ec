/**
 * One Valohai project, one connection, as the Forge app keeps it: which repository of the workspace
 * each project is connected to (from the connection records), the checks a connect makes before its
 * job is queued, and the mark a moved-away connection gets.
 */
import type { StartConnectPayload } from '../contract';
import { ResolverFailure } from '../errors';
import { keys } from './keys';
import type { RecordStore } from '../platform/ports';
import type { StoredConnection } from './records';
import { mayCreateUnder, type Connector } from '../access/trust';

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

/**
 * Refuses, before a job is queued: a project connected to another repository unless a workspace admin
 * confirmed moving it, a move asked by anyone else, and a new project under an owner the workspace does
 * not let this connector use.
 */
export async function checkProjectChoice(
  store: RecordStore,
  workspaceUuid: string,
  repositoryUuid: string,
  choices: StartConnectPayload,
  connector: Connector,
): Promise<void> {
  if (choices.moveProject && !connector.workspaceAdmin) {
    throw new ResolverFailure(
      'not-admin',
      'Only workspace admins can move a Valohai project from one repository to another.',
      'Choose a project no other repository uses, or ask a workspace admin to move it.',
    );
  }
  if (choices.newProject) {
    if (!mayCreateUnder(connector, choices.newProject.owner)) {
      throw new ResolverFailure(
        'not-admin',
        `Repository admins may not create Valohai projects under ${choices.newProject.owner} in this workspace.`,
        "Choose an existing project, or ask a workspace admin to create it or to allow that owner on the workspace's Valohai settings page.",
      );
    }
    return;
  }
  const holder = (await projectsInUse(store, workspaceUuid, repositoryUuid)).get(choices.projectId);
  if (holder && !choices.moveProject) {
    throw new ResolverFailure(
      'project-in-use',
      `This Valohai project is connected to ${holder.repository}. Connecting it here would make Valohai fetch and run this repository's code instead, with that project's secrets.`,
      connector.workspaceAdmin
        ? `Choose another project or create a new one. To move the project here on purpose, confirm the move; ${holder.repository} then shows it as moved away.`
        : `Choose another project or create a new one, or ask a workspace admin to move it from ${holder.repository}.`,
    );
  }
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
