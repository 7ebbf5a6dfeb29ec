/**
 * disconnect: Valohai stops holding the key first, then the connection's keys leave every repository.
 * The other order would leave Valohai with a key that no longer opens anything.
 */
import { discover } from './discover';
import { messageOf } from './explain';
import { keyInWords, lookalikeWarnings, madeWhere, otherKeys, ourKeys } from './keys';
import type { WorkflowDeps } from './ports';
import { fetchesElsewhere } from './project-use';
import { findingProject, forEachBounded, foundProject, Saga } from './saga';
import { emptyResult, type AccessKeyOutcome, type ProgressSink, type WarningCode, type WorkflowResult } from './types';

export interface DisconnectInput {
  workspace: string;
  repo: string;
  project: string;
  /** Read everything and report what would be removed ('remove-planned'); change nothing. */
  dryRun?: boolean;
}

/**
 * `valohai` may be absent (the Forge app with no Valohai token stored): the keys still leave every
 * repository, which is what ends Valohai's access, and the result says to remove the private key from
 * the project's settings by hand.
 */
export type DisconnectDeps = Omit<WorkflowDeps, 'authority' | 'valohai'> & { valohai?: WorkflowDeps['valohai'] };

/** Discovery warnings about fetching the repository, which a disconnect has no business repeating. */
const FETCH_ONLY_WARNINGS: ReadonlySet<WarningCode> = new Set(['https-submodule', 'foreign-host', 'missing-url', 'invalid-url', 'gitmodules-unreadable']);

export async function disconnect(
  deps: DisconnectDeps,
  input: DisconnectInput,
  progress: ProgressSink = () => {},
): Promise<WorkflowResult> {
  const run = () => disconnectLocked(deps, input, progress);
  // Only keys this connection recorded are removed, which narrows access and never widens it: no authority is asked.
  return deps.lock ? deps.lock.withLock(`repo:${input.workspace}/${input.repo}`.toLowerCase(), run) : run();
}

async function disconnectLocked(deps: DisconnectDeps, input: DisconnectInput, progress: ProgressSink): Promise<WorkflowResult> {
  const saga = new Saga(progress);
  const result: WorkflowResult = emptyResult(`${input.workspace}/${input.repo}`, input.project);
  const valohai = deps.valohai;
  try {
    // The reads and Valohai's key; the access keys to remove are counted once the repositories are known.
    saga.expect(valohai ? 3 : 2);
    const [plan, project] = await Promise.all([
      saga.step('read-repository', `Reading ${input.workspace}/${input.repo} and its submodules on Bitbucket`, () =>
        discover(deps.bitbucket, { ...input, submodules: true }),
      ),
      valohai
        ? saga.step('valohai-project', findingProject(input.project), () => valohai.findProject(input.project), foundProject)
        : Promise.resolve(undefined),
    ]);
    Object.assign(result, {
      repository: plan.repository.fullName,
      sshUrl: plan.repository.sshUrl,
      ref: plan.ref,
      headCommit: plan.headCommit,
      // How Valohai would fetch the submodules is moot once it no longer fetches: only what bears on
      // removing the keys (discovery that stopped early) is reported.
      warnings: plan.warnings.filter((w) => !FETCH_ONLY_WARNINGS.has(w.code)),
    });
    const projectId = project?.id ?? input.project;
    result.valohai = { projectId, repositoryId: project?.repository?.id ?? null, fetchedCommit: null };

    // Repositories that once held the key but are no longer submodules are cleaned too.
    const remembered = await deps.store?.get(plan.repository.fullName, projectId);
    const names = new Map(plan.targets.map((t) => [t.key, { workspace: t.workspace, slug: t.slug }]));
    for (const t of remembered?.targets ?? []) {
      const [workspace = '', slug = ''] = t.repository.split('/');
      if (!names.has(t.repository.toLowerCase())) names.set(t.repository.toLowerCase(), { workspace, slug });
    }

    // Valohai's key, then (as a rule) one access key per repository.
    saga.expect(1 + names.size);
    const elsewhere = project && fetchesElsewhere(project.repository?.url, plan.repository);
    const runner = deps.labelMaker ?? 'app';
    // Before Valohai is told to forget its key: whether that key is still this connection's. Another
    // connection of the project (the app's, or the CLI's elsewhere) that took it over leaves its own key
    // on the repository, and Bitbucket saw that key used after ours: Valohai fetches with it, so its
    // settings are that connection's, not ours to clear. Listed once, and used again below.
    const { workspace: superWorkspace, slug: superSlug } = plan.repository;
    const clears = project?.repository && valohai && !elsewhere && remembered?.keySource !== 'valohai';
    const superKeys = clears ? await deps.bitbucket.listAccessKeys(superWorkspace, superSlug) : undefined;
    const takenBy = superKeys ? otherKeys(superKeys, projectId, remembered).filter((o) => o.live) : [];
    if (!project) {
      const name = remembered?.projectName ?? input.project;
      saga.skipped('valohai-key', `No Valohai token: the private key stays in Valohai project ${name} until removed there`);
      result.warnings.push({
        code: 'valohai-key-left',
        message: `Valohai could not be asked to forget the key (no Valohai token is stored). Its access keys are gone, so it opens nothing; remove it from the repository settings of Valohai project ${name} by hand.`,
      });
    } else if (remembered?.keySource === 'valohai') {
      // The key was made in Valohai and never written by the app: it is not the app's to clear there.
      const message = `The key was made in Valohai: remove it in Valohai project ${project.name} (Settings › Repository)`;
      saga.skipped('valohai-key', message);
      result.warnings.push({
        code: 'valohai-key-left',
        message: `${message}. Its access keys ${input.dryRun ? 'would be' : 'are'} gone from every repository, so it opens nothing there.`,
      });
    } else if (elsewhere) {
      // The project was moved to another repository: its key there is that connection's, not ours to clear.
      const message = `Valohai project ${project.name} now fetches ${elsewhere}: its settings are left as they are`;
      saga.skipped('valohai-key', message);
      result.warnings.push({ code: 'project-moved', message: `${message}.` });
    } else if (takenBy.length) {
      const message = `Valohai project ${project.name} fetches with another connection's key (${takenBy
        .map(({ key, maker }) => `access key ${key.id} "${key.label}", ${madeWhere(maker, runner)}, last used ${key.lastUsed}`)
        .join('; ')}): its settings are that connection's and are left as they are`;
      saga.skipped('valohai-key', message);
      result.warnings.push({ code: 'other-connection', repository: plan.repository.fullName, message: `${message}. Only this connection's access keys ${input.dryRun ? 'would be' : 'are'} removed.` });
    } else if (project.repository && valohai && input.dryRun) {
      saga.skipped('valohai-key', `Dry run: the private key would be removed from Valohai project ${project.name}`);
    } else if (project.repository && valohai) {
      const repositoryId = project.repository.id;
      await saga.step('valohai-key', 'Removing the private key from Valohai', () => valohai.clearRepositoryKey(repositoryId));
    } else {
      saga.skipped('valohai-key', 'Valohai holds no repository settings for this project');
    }

    const outcomes: AccessKeyOutcome[] = [];
    const leftovers: string[] = [];
    await forEachBounded([...names.values()], deps.concurrency ?? 8, async ({ workspace, slug }) => {
      const name = `${workspace}/${slug}`;
      let keys;
      try {
        const isSuper = superKeys && name.toLowerCase() === plan.repository.fullName.toLowerCase();
        const all = isSuper ? superKeys : await deps.bitbucket.listAccessKeys(workspace, slug);
        // Only keys on record leave; one that merely carries the app's label is named and left alone.
        keys = ourKeys(all, remembered);
        result.warnings.push(...lookalikeWarnings([{ target: { workspace, slug, key: name.toLowerCase(), via: '' }, keys: all }], projectId, remembered, [], deps.labelMaker ?? 'app'));
      } catch (err) {
        leftovers.push(`any key of this connection on ${name} (could not list keys: ${messageOf(err)})`);
        return;
      }
      for (const key of keys) {
        if (input.dryRun) {
          outcomes.push({ repository: name, id: key.id, status: 'remove-planned' });
          continue;
        }
        try {
          const gone = await saga.step(`delete-key:${name}:${key.id}`, `Removing access key ${keyInWords(key)} from ${name}`, () =>
            deps.bitbucket.deleteAccessKey(workspace, slug, key.id),
          );
          outcomes.push({ repository: name, id: key.id, status: gone === 'deleted' ? 'deleted' : 'absent' });
        } catch (err) {
          outcomes.push({ repository: name, id: key.id, status: 'failed' });
          leftovers.push(`access key ${key.id} on ${name} (${messageOf(err)})`);
        }
      }
    });
    result.accessKeys = outcomes.sort((a, b) => a.repository.localeCompare(b.repository) || (a.id ?? 0) - (b.id ?? 0));
    if (leftovers.length) {
      result.leftovers = leftovers;
      const cleared = project && !elsewhere && remembered?.keySource !== 'valohai' && !takenBy.length;
      result.error = `${cleared ? 'Valohai no longer holds the key, but some' : 'Some'} access keys are still on Bitbucket. Run disconnect again to remove them.`;
      return result;
    }
    if (!input.dryRun) await deps.store?.delete(plan.repository.fullName, projectId);
    result.outcome = 'done';
    // Verified: Bitbucket answered each removal (gone, or already gone) and Valohai either cleared its key
    // or holds none of this connection's. A dry run, or Valohai left unasked (no token), verifies nothing.
    result.verified = !input.dryRun && Boolean(project);
    return result;
  } catch (err) {
    result.error = `${messageOf(err)}\nNothing was removed from Bitbucket; Valohai keeps fetching as before.`;
    return result;
  }
}
