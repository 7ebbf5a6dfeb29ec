/** sync: ask Valohai to fetch and report what it found. The push trigger runs this on every push. */
import { explainFetchError } from './explain';
import type { ValohaiApi } from './ports';

export interface SyncResult {
  projectId: string;
  newCommits: string[];
  errors: string[];
  outcome: 'done' | 'unverified';
}

export async function sync(deps: { valohai: ValohaiApi }, input: { project: string }): Promise<SyncResult> {
  const project = await deps.valohai.findProject(input.project);
  const fetched = await deps.valohai.fetchRepository(project.id);
  const context = { ref: project.repository?.ref ?? '', sshUrl: project.repository?.url ?? '' };
  return {
    projectId: project.id,
    newCommits: fetched.commits.map((c) => c.identifier),
    errors: fetched.errors.map((e) => explainFetchError(e, context)),
    outcome: fetched.errors.length ? 'unverified' : 'done',
  };
}
