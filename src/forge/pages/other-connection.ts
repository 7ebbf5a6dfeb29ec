/**
 * A connection of a repository that the app does not record: one made with the CLI, which keeps its own
 * records (issue 22). Where the app looks for it, and what each look costs of the stored API token's
 * hour (issue 25: a page load spends none of it):
 *
 * - The page load: the project list it reads from Valohai anyway (for the connect form) names a project
 *   whose repository settings fetch this repository, while no connection of the app holds the project
 *   and the app's own last disconnect here did not let it go (Valohai keeps the URL after a disconnect).
 *   No Bitbucket request at all. Bitbucket lists access keys only to the stored token, so the page says
 *   what Valohai says, and that the keys are not listed yet.
 * - The connect preview, which a person asks for: when the chosen project fetches this repository, each
 *   repository's keys are listed with the stored token, one request per repository, counted in the
 *   token's hour like every other resolver's. The keys labelled for the project that no record of the
 *   app names are that connection's, each with its last use and the repositories it is on.
 * - Connect itself (the engine, with `others: 'refuse'`), which lists the keys anyway: it refuses before
 *   anything changes and its result names the keys, so the page can offer Adopt then too.
 */
import { mapBounded, otherKeys, otherConnectionKeys, type BitbucketApi, type Plan, type ValohaiProjectInfo } from '../../connect/index';
import type { OtherConnection } from '../contract';
import type { Project } from '../../valohai/index';
import { valohaiProjectUrl } from '../platform/clients';

/** Valohai's project fetches this repository: the project and what its settings say, keys not yet listed. */
function fromValohai(project: Pick<Project, 'id' | 'name' | 'owner' | 'repository'>, host: string): OtherConnection {
  return {
    project: { id: project.id, name: project.name, url: valohaiProjectUrl(host, project.owner ?? null, project.name) },
    ref: project.repository?.ref || null,
    keys: null,
  };
}

/**
 * From the page load's project list: the first project (as the list is sorted) that fetches `sshUrl`
 * and that is not the app's doing (`theApps`: held by a connection of the app, or let go by its last
 * disconnect here). Several projects may fetch one repository; the others show once this one is the app's.
 */
export function suspectedConnection(
  projects: readonly Project[],
  sshUrl: string,
  theApps: (projectId: string) => boolean,
  host: string,
): OtherConnection | undefined {
  const found = projects.find((p) => p.repository?.url === sshUrl && !theApps(p.id));
  return found ? fromValohai(found, host) : undefined;
}

/** Whether Valohai's settings for the project fetch the repository `plan` read. */
export function fetchesHere(project: ValohaiProjectInfo, sshUrl: string): boolean {
  return Boolean(project.repository?.url) && project.repository?.url === sshUrl;
}

/**
 * The preview's look: each target's access keys, listed with `bitbucket` (the stored token's, one
 * request per repository), and the keys labelled for the project on the repository that no record of
 * the app names (the app holds no connection here: the preview is offered only then).
 */
export async function listOtherConnection(bitbucket: BitbucketApi, plan: Plan, project: ValohaiProjectInfo, host: string): Promise<OtherConnection> {
  const targetKeys = await mapBounded(plan.targets, 4, async (target) => ({ target, keys: await bitbucket.listAccessKeys(target.workspace, target.slug) }));
  const others = otherKeys(targetKeys[0]?.keys ?? [], project.id, undefined);
  return { ...fromValohai(project, host), keys: otherConnectionKeys(others, targetKeys) };
}
