/**
 * One Valohai project, one connection: the checks a connect makes before its job is queued, over the
 * workspace's connection records (store/project-use.ts) and its trust rules.
 */
import type { StartConnectPayload } from '../contract';
import { ResolverFailure } from '../errors';
import type { RecordStore } from '../platform/ports';
import { projectsInUse } from '../store/project-use';
import { mayCreateUnder, type Connector } from './trust';

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
