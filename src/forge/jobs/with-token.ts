/**
 * The jobs that run the engine with the workspace's Bitbucket API token: connect, rotate and
 * disconnect. The engine does the work and keeps its invariants; these only choose its inputs and
 * record what the pages show afterwards.
 */
import { appKeyType, connect, disconnect, emptyResult, rotate, Saga, type ProgressSink, type WorkflowResult } from '../../connect/index';
import type { StartConnectPayload, StartRotatePayload } from '../contract';
import { connectorLapse, TAKE_OVER } from '../access/connector-lapse';
import { failures, ResolverFailure } from '../errors';
import type { JobContext } from './context';
import type { ValohaiPort } from '../platform/ports';
import { disconnectByHand, fetchOutcome, keepCreatedProject } from './by-hand';
import { keysSeenIn } from '../store/keys-seen';
import { gitmodulesHash } from '../store/connections';

async function requireToken(ctx: JobContext) {
  const secret = await ctx.bitbucketSecret();
  if (!secret) throw failures.bitbucketNotSetUp();
  return ctx.tokenBitbucket(secret);
}

/** After the engine: the verified time, the warnings and the project owner the pages show. */
async function recordOutcome(ctx: JobContext, result: WorkflowResult, owner: string | null | undefined): Promise<void> {
  // The .gitmodules the key went out for, read as the app: a push that leaves it alone then needs no check.
  const gitmodules =
    result.outcome !== 'failed' && result.headCommit
      ? await ctx.app.getFileAtCommit(ctx.workspace, ctx.repo, result.headCommit, '.gitmodules').then(gitmodulesHash, () => undefined)
      : undefined;
  const stored = await ctx.connections.load();
  if (!stored) return;
  await ctx.connections.save({
    ...stored,
    ...(gitmodules ? { gitmodulesHash: gitmodules } : {}),
    projectOwner: owner ?? stored.projectOwner,
    warnings: result.warnings,
    verifiedAt: result.verified ? ctx.now.toISOString() : stored.verifiedAt,
    // A failed run was undone, and the key that was in place before still is: its fetch state stands.
    lastFetch: result.outcome === 'failed' ? (stored.lastFetch ?? null) : fetchOutcome(ctx, result),
    keysSeen: result.outcome === 'failed' ? (stored.keysSeen ?? null) : keysSeenIn(result, ctx.now),
  });
}

/**
 * The project a connect asked to create, when a run of the same job that died may have created it
 * already: looked up by owner/name first, so a rerun does not make a second one.
 */
async function createOnce(valohai: ValohaiPort, project: { name: string; owner: string }, resumed: boolean) {
  if (resumed) {
    const made = await valohai.findProject(`${project.owner}/${project.name}`).catch(() => undefined);
    if (made) return made;
  }
  return valohai.createProject(project);
}

export async function connectJob(ctx: JobContext, choices: StartConnectPayload, sink: ProgressSink, resumed = false): Promise<WorkflowResult> {
  const bitbucket = await requireToken(ctx);
  const deps = await ctx.deps(bitbucket);
  const valohai = await ctx.valohai();
  let projectId = choices.projectId;
  let owner: string | null | undefined;
  let created: string | undefined;
  if (choices.newProject) {
    const { name, owner: chosenOwner } = choices.newProject;
    try {
      const project = await new Saga(sink).step('create-project', `Creating Valohai project ${name}`, () =>
        createOnce(valohai, { name, owner: chosenOwner }, resumed),
      );
      projectId = project.id;
      owner = project.owner ?? null;
      created = `${project.owner ?? chosenOwner}/${project.name}`;
    } catch (err) {
      const result = emptyResult(ctx.job.repository, '');
      result.error = err instanceof Error ? err.message : String(err);
      return result;
    }
  }
  // The engine counts its own steps: a project created first is one more.
  const counted: ProgressSink = created ? (event) => sink(event.planned ? { ...event, planned: event.planned + 1 } : event) : sink;
  const result = await connect(
    deps,
    {
      workspace: ctx.workspace,
      repo: ctx.repo,
      ref: choices.ref,
      submodules: choices.submodules,
      project: projectId ?? '',
      keyType: choices.keyType,
      moveProject: choices.moveProject === true,
      ...(choices.publicKey !== undefined ? { publicKey: choices.publicKey } : {}),
      // A connection of this repository and project made with the CLI is never replaced silently:
      // connect refuses it, naming its keys; Adopt (a person's choice) takes it over.
      others: choices.adopt ? 'take-over' : 'refuse',
    },
    counted,
  );
  if (choices.moveProject && result.outcome !== 'failed') await ctx.noteProjectMoved(result);
  if (owner === undefined && result.outcome !== 'failed') {
    // Only for the link to the project's page: a failed lookup just leaves the link out.
    owner = await valohai.getProject(result.valohai.projectId).then((p) => p.owner ?? null, () => undefined);
  }
  await recordOutcome(ctx, result, owner);
  if (created && result.outcome === 'failed') keepCreatedProject(result, created);
  return result;
}

/**
 * A rotation started by the key-age policy or as one item of a bulk action has nobody behind each of its
 * repositories: it renews the key where the connection records it and goes no further.
 */
export function unattended(ctx: JobContext): boolean {
  const { input } = ctx.job;
  return input.kind === 'rotate' && (input.automatic === true || ctx.job.batchId !== undefined);
}

export async function rotateJob(ctx: JobContext, choices: StartRotatePayload, sink: ProgressSink): Promise<WorkflowResult> {
  const connection = await ctx.requireConnection();
  const bitbucket = await requireToken(ctx);
  const { record } = connection;
  if (ctx.job.input.kind === 'rotate' && ctx.job.input.automatic) {
    // The policy's rotation acts for the connection's maker, who must still be someone allowed to connect.
    const lapse = await connectorLapse(ctx.platform.store, ctx.asApp, ctx.job.workspaceUuid, ctx.job.accountId);
    if (lapse) throw new ResolverFailure('not-admin', `Automatic rotation stopped, and the old key still works: ${lapse}`, TAKE_OVER);
  }
  const result = await rotate(
    await ctx.deps(bitbucket),
    {
      workspace: ctx.workspace,
      repo: ctx.repo,
      ref: record.ref,
      submodules: connection.submodules,
      project: record.projectId,
      keyType: choices.keyType ?? appKeyType(record.keyType),
      ...(choices.publicKey !== undefined ? { publicKey: choices.publicKey } : {}),
      restoreOnly: unattended(ctx),
      // A connection made with the CLI since (its key used after the app's) is where Valohai fetches now:
      // a rotation, a person's or the key-age policy's, never takes Valohai back from it silently.
      others: 'refuse',
    },
    sink,
  );
  await recordOutcome(ctx, result, undefined);
  return result;
}

/** With a token the engine removes every key; without one, Valohai forgets the key and the admin removes it by hand. */
export async function disconnectJob(ctx: JobContext, sink: ProgressSink): Promise<WorkflowResult> {
  const connection = await ctx.requireConnection();
  const secret = await ctx.bitbucketSecret();
  if (!secret) return disconnectByHand(ctx, sink);
  return disconnect(
    await ctx.disconnectDeps(ctx.tokenBitbucket(secret)),
    { workspace: ctx.workspace, repo: ctx.repo, project: connection.record.projectId },
    sink,
  );
}
