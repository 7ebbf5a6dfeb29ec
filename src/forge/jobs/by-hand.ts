/**
 * The jobs that need no Bitbucket API token: the guided manual connect (the admin pastes the public
 * key), its verification, verifying any connection, and disconnecting without a token.
 *
 * Manual mode reverses the engine's order on purpose. The engine's invariant (install.ts) is that
 * Valohai only ever holds a key that is already an access key everywhere it fetches; here Valohai gets
 * the private key first and Bitbucket gets the public key later, by hand. That is acceptable because
 * until the admin pastes it, Valohai's fetch simply fails with "Permission denied (publickey)" for a
 * repository it could not fetch before either: nothing that worked stops working. What it buys: the
 * private key goes straight from generation to Valohai and is never stored, not even for a minute.
 */
import {
  accessKeyLabel,
  discover,
  emptyResult,
  fetchAndVerify,
  fetchesElsewhere,
  findingProject,
  foundProject,
  normaliseKey,
  NotAuthorisedError,
  ProjectInUseError,
  ProjectMovedError,
  Saga,
  type ProgressSink,
  type Target,
  type WorkflowResult,
} from '../../connect/index';
import { accessKeysUrl, valohaiProjectUrl } from '../platform/clients';
import type { HealthEntry, ManualTarget, StartConnectPayload } from '../contract';
import { cleanText } from '../errors';
import { recordHealth } from '../store/health-records';
import { keyAgeOf } from '../store/connections';
import type { JobContext } from './context';
import { manualKeyStates, manualVerifyError } from './manual-check';
import type { KeysSeen, LastFetch, StoredConnection } from '../store/records';
import { listRecordedKeys } from '../store/keys-seen';
import { saveLeftByHand } from '../store/left-by-hand';

export interface JobOutcome {
  result: WorkflowResult;
}


export function manualTarget(t: Target): ManualTarget {
  return { ...t, accessKeysUrl: accessKeysUrl(t.workspace, t.slug) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The repositories the resolver found the caller administers when the job was started. */
function authorisedTargets(ctx: JobContext): ReadonlySet<string> {
  const { input } = ctx.job;
  return new Set(input.kind === 'manual-connect' ? (input.authorised ?? []) : []);
}

/**
 * The targets read now must be ones checked when the job was started: a `.gitmodules` changed in
 * between names repositories nobody asked about, and the job cannot ask (it has no caller), so it stops
 * before any key exists, with connect's refusal.
 */
function refuseUnchecked(targets: readonly Target[], authorised: ReadonlySet<string>): void {
  const unchecked = targets.filter((t) => !authorised.has(t.key));
  if (!unchecked.length) return;
  throw new NotAuthorisedError(
    unchecked.map((t) => ({
      repository: `${t.workspace}/${t.slug}`,
      allowed: false,
      reason: 'unchecked' as const,
      message: 'it was not among the repositories checked when you started (.gitmodules changed since), so whether you administer it was not checked. Connect again to have it checked, or ask its admin.',
      via: t.via,
    })),
  );
}

/**
 * Generates the key, gives Valohai its private half at once, keeps the public half for the page. Only
 * for targets the resolver authorised for the caller (`authorisedTargets`): nothing is generated or
 * given before that holds.
 */
export async function manualConnect(ctx: JobContext, choices: StartConnectPayload, sink: ProgressSink): Promise<WorkflowResult> {
  const saga = new Saga(sink);
  // Read, find or create the project, make the key, give it to Valohai, keep the public half.
  saga.expect(5);
  const result = emptyResult(ctx.job.repository, choices.projectId ?? '');
  let created: string | undefined;
  try {
    const valohai = await ctx.valohai();
    const plan = await saga.step('read-repository', `Reading ${ctx.job.repository}${choices.submodules ? ' and its submodules' : ''} on Bitbucket`, async () => {
      const found = await discover(ctx.app, { workspace: ctx.workspace, repo: ctx.repo, ref: choices.ref, submodules: choices.submodules });
      refuseUnchecked(found.targets, authorisedTargets(ctx));
      return found;
    });
    Object.assign(result, {
      repository: plan.repository.fullName,
      sshUrl: plan.repository.sshUrl,
      ref: plan.ref,
      headCommit: plan.headCommit,
      warnings: plan.warnings,
    });
    const project = choices.newProject
      ? await saga.step('valohai-project', `Creating Valohai project ${choices.newProject.name}`, () =>
          valohai.createProject({ name: choices.newProject.name, owner: choices.newProject.owner }),
        )
      : await saga.step('valohai-project', findingProject(choices.projectId), () => valohai.findProject(choices.projectId), foundProject);
    if (choices.newProject) created = `${project.owner ?? choices.newProject.owner}/${project.name}`;
    result.valohai.projectId = project.id;
    const elsewhere = fetchesElsewhere(project.repository?.url, plan.repository);
    if (elsewhere && !choices.moveProject) throw new ProjectInUseError(project.name, elsewhere);
    if (!project.repository) {
      throw new Error(`Valohai project ${project.name} has no repository settings yet. Open the project's Settings > Repository in Valohai once, then connect again.`);
    }
    const repositoryId = project.repository.id;
    result.valohai.repositoryId = repositoryId;

    const key = await saga.step('generate-key', `Generating an ${choices.keyType === 'rsa' ? 'RSA 4096' : 'Ed25519'} key pair`, () =>
      ctx.generateKey({ type: choices.keyType, comment: `valohai-${project.name}` }),
    );
    const now = ctx.now;
    const label = accessKeyLabel(project.name, project.id, now);
    // See the file comment: Valohai holds the key before Bitbucket does, and fetches fail until the paste.
    await saga.step('valohai-key', 'Giving Valohai the repository URL, fetch reference and private key', () =>
      valohai.setRepository(repositoryId, { url: plan.repository.sshUrl, ref: plan.ref, sshPrivateKey: key.privateKey }),
    );
    // If the public half cannot be kept, nobody could ever paste it: take the private half back.
    saga.onUndo('valohai-key', 'the private key given to Valohai', () => valohai.clearRepositoryKey(repositoryId));

    const targets = plan.targets.map(manualTarget);
    const connection: StoredConnection = {
      workspaceUuid: ctx.job.workspaceUuid,
      repositoryUuid: ctx.job.repositoryUuid,
      mode: 'manual',
      state: 'manual-pending',
      submodules: choices.submodules,
      projectOwner: project.owner ?? null,
      publicKeyLine: key.publicKey,
      manualTargets: targets,
      warnings: plan.warnings,
      verifiedAt: null,
      lastPushFetch: null,
      connectedBy: ctx.job.accountId,
      record: {
        repository: plan.repository.fullName,
        projectId: project.id,
        projectName: project.name,
        fingerprint: key.fingerprint,
        publicKey: normaliseKey(key.publicKey),
        keyType: key.type,
        label,
        createdAt: now.toISOString(),
        ref: plan.ref,
        targets: targets.map((t) => ({ repository: `${t.workspace}/${t.slug}`, keyId: null })),
      },
    };
    await saga.step('save-key', 'Keeping the public key and the repositories to add it to', () => ctx.connections.save(connection));
    saga.commit();
    Object.assign(result, {
      keyType: key.type,
      fingerprint: key.fingerprint,
      publicKey: key.publicKey,
      accessKeys: targets.map((t) => ({ repository: `${t.workspace}/${t.slug}`, id: null, status: 'planned' })),
      outcome: 'done',
    } satisfies Partial<WorkflowResult>);
    if (choices.moveProject) await ctx.noteProjectMoved(result);
    return result;
  } catch (err) {
    const undoFailures = await saga.rollback();
    result.error = messageOf(err);
    if (undoFailures.length) {
      result.leftovers = undoFailures.map((f) => `${f.what} (could not be taken back: ${messageOf(f.error)})`);
      result.error += '\nRemove the SSH key in the Valohai project settings, then try again.';
    }
    if (created) keepCreatedProject(result, created);
    return result;
  }
}

/**
 * Asks Valohai to fetch, and checks it now sees Bitbucket's head commit of the fetch reference.
 * `rawErrors` receives Valohai's fetch errors as git wrote them (the result has them explained).
 */
async function fetchAndCheck(
  ctx: JobContext,
  connection: StoredConnection,
  sink: ProgressSink,
  result: WorkflowResult,
  rawErrors: string[] = [],
  listKeys?: () => Promise<void>,
): Promise<boolean> {
  const saga = new Saga(sink);
  // The keys listed (with a token), the project and the head read, then Valohai's fetch and the check of what it sees.
  saga.expect(listKeys ? 5 : 4);
  const { record } = connection;
  if (listKeys) await saga.step('list-keys', `Listing the connection's access keys on ${record.targets.length === 1 ? 'its repository' : `its ${record.targets.length} repositories`}`, listKeys);
  const valohai = await ctx.valohai();
  // A project that now fetches another repository would "verify" that one's commits: stop instead.
  const project = await saga.step('valohai-project', `Reading Valohai project ${record.projectName}`, () => valohai.findProject(record.projectId));
  const elsewhere = fetchesElsewhere(project.repository?.url, { fullName: ctx.job.repository });
  if (elsewhere) throw new ProjectMovedError(record.projectName, elsewhere);
  const plan = await saga.step('read-repository', `Reading the head of "${record.ref}" in ${ctx.job.repository} on Bitbucket`, () =>
    discover(ctx.app, { workspace: ctx.workspace, repo: ctx.repo, ref: record.ref, submodules: false }),
  );
  Object.assign(result, {
    repository: plan.repository.fullName,
    sshUrl: plan.repository.sshUrl,
    ref: plan.ref,
    headCommit: plan.headCommit,
    keyType: record.keyType,
    fingerprint: record.fingerprint,
  } satisfies Partial<WorkflowResult>);
  // The same client, its fetch watched: which repository git could not clone is in its own words.
  const watched: typeof valohai = Object.create(valohai) as typeof valohai;
  watched.fetchRepository = async (projectId) => {
    const fetched = await valohai.fetchRepository(projectId);
    rawErrors.push(...fetched.errors);
    return fetched;
  };
  const deps = { bitbucket: ctx.app, valohai: watched, generateKey: ctx.platform.generateKey };
  const verification = await fetchAndVerify(deps, saga, record.projectId, { headCommit: plan.headCommit, ref: plan.ref, sshUrl: plan.repository.sshUrl });
  result.valohai.fetchedCommit = verification.fetchedCommit;
  result.verified = verification.verified;
  result.outcome = verification.verified ? 'done' : 'unverified';
  if (!verification.verified) result.error = verification.errors.join('\n');
  return verification.verified;
}

/**
 * A connect that failed after creating its Valohai project: the project stays (the app never deletes
 * Valohai projects), so the result may not say "nothing was changed", and the way back is to choose it.
 */
export function keepCreatedProject(result: WorkflowResult, created: string): void {
  const error = (result.error ?? 'The connect failed.').replace(/^Nothing was changed/, 'Nothing else was changed');
  result.error = `${error}\nThe new Valohai project ${created} stays in Valohai: choose it under "Use an existing project" when you try again, or delete it in Valohai.`;
}

/** What a workflow's fetch showed, as the connection keeps it for the page's sync state. */
export function fetchOutcome(ctx: Pick<JobContext, 'now' | 'secrets'>, result: WorkflowResult): LastFetch {
  // Kept on the connection: scrubbed like the job's own error, of the tokens and the key the work held.
  const errors = (result.error ?? 'Valohai could not fetch the repository.').split('\n').filter(Boolean);
  return {
    at: ctx.now.toISOString(),
    ok: result.verified,
    head: result.headCommit,
    fetched: result.valohai.fetchedCommit,
    errors: result.verified ? [] : errors.map((e) => cleanText(e, ctx.secrets)),
  };
}

/** Verifies a connection (manual or automatic) without changing anything but its verified time. */
export async function verifyConnection(ctx: JobContext, sink: ProgressSink, manual: boolean): Promise<WorkflowResult> {
  const connection = await ctx.requireConnection();
  const result = emptyResult(ctx.job.repository, connection.record.projectId);
  try {
    const rawErrors: string[] = [];
    // With a stored token, a person's Verify also lists the keys the connection recorded: the page shows
    // that listing until the next one. A bulk Verify asks Valohai only, and spends none of the token.
    let keysSeen: KeysSeen | undefined;
    const person = ctx.job.batchId === undefined;
    const secret = person && connection.mode === 'automatic' && connection.state === 'connected' ? await ctx.bitbucketSecret() : undefined;
    const listKeys = secret
      ? async () => {
          keysSeen = await listRecordedKeys(ctx.now, ctx.tokenBitbucket(secret), connection);
        }
      : undefined;
    const verified = await fetchAndCheck(ctx, connection, sink, result, rawErrors, listKeys);
    const fresh = { ...((await ctx.connections.load()) ?? connection), ...(keysSeen ? { keysSeen } : {}) };
    const lastFetch = fetchOutcome(ctx, result);
    let perRepository = false;
    if (verified) {
      await ctx.connections.save({ ...fresh, state: 'connected', verifiedAt: ctx.now.toISOString(), lastFetch, manualCheck: null });
    } else if (fresh.state === 'connected') {
      await ctx.connections.save({ ...fresh, lastFetch });
    } else if (manual) {
      // Per repository, when git said which refused the key; else the page keeps no stale per-repository word.
      const states = manualKeyStates(fresh.manualTargets, rawErrors);
      await ctx.connections.save({ ...fresh, manualCheck: states ? { at: ctx.now.toISOString(), targets: states } : null });
      if (states) result.error = manualVerifyError(states);
      perRepository = states !== null;
    }
    if (!verified && manual && !perRepository) {
      result.error +=
        '\nIf you have not added the public key yet, add it on each repository listed on the page (Repository settings > Access keys), then verify again.';
    }
    if (verified || fresh.state === 'connected') await recordVerified(ctx, connection, result);
  } catch (err) {
    result.outcome = 'failed';
    result.error = messageOf(err);
    if (err instanceof ProjectMovedError) {
      const fresh = (await ctx.connections.load()) ?? connection;
      await ctx.connections.save({ ...fresh, movedAway: { to: err.fetches, fetches: err.fetches, at: ctx.now.toISOString() } });
    }
  }
  return result;
}

/** A Verify of a connected repository is a check too: it joins the connection's history. */
async function recordVerified(ctx: JobContext, connection: StoredConnection, result: WorkflowResult): Promise<void> {
  const entry: HealthEntry = {
    at: ctx.now.toISOString(),
    trigger: 'verify',
    health: result.verified ? 'healthy' : 'broken',
    keyAgeDays: keyAgeOf(connection, ctx.now),
    head: result.headCommit,
    headSeen: result.headCommit ? result.valohai.fetchedCommit === result.headCommit : null,
    findings: result.verified
      ? []
      : [
          {
            severity: 'broken',
            code: 'fetch-failed',
            message: cleanText(result.error ?? 'Valohai could not fetch the repository.', ctx.secrets),
            fix: "Fix what Valohai's error names, then run Verify again.",
          },
        ],
    changes: [],
    requests: { ...ctx.counts },
  };
  await recordHealth(ctx.platform.store, ctx.job.workspaceUuid, ctx.job.repositoryUuid, entry);
}

/**
 * Disconnect without an API token: Valohai forgets the key, the app forgets the connection, and the
 * result names each repository whose access key the admin removes by hand.
 */
export async function disconnectByHand(ctx: JobContext, sink: ProgressSink): Promise<WorkflowResult> {
  const connection = await ctx.requireConnection();
  const { record } = connection;
  const saga = new Saga(sink);
  const result = emptyResult(ctx.job.repository, record.projectId);
  try {
    const valohai = await ctx.valohaiIfStored();
    saga.expect(valohai ? 3 : 2);
    const project = valohai
      ? await saga.step('valohai-project', `Finding Valohai project ${record.projectName}`, () => valohai.findProject(record.projectId))
      : undefined;
    result.valohai.repositoryId = project?.repository?.id ?? null;
    const elsewhere = project && fetchesElsewhere(project.repository?.url, { fullName: ctx.job.repository });
    if (!project || !valohai) {
      saga.skipped('valohai-key', `No Valohai token: the private key stays in Valohai project ${record.projectName} until removed there`);
      result.warnings.push({
        code: 'valohai-key-left',
        message: `Valohai could not be asked to forget the key (no Valohai token is stored): remove it from the repository settings of Valohai project ${record.projectName} by hand.`,
      });
    } else if (elsewhere) {
      saga.skipped('valohai-key', `Valohai project ${project.name} now fetches ${elsewhere}: its settings are left as they are`);
    } else if (project.repository) {
      const repositoryId = project.repository.id;
      await saga.step('valohai-key', 'Removing the private key from Valohai', () => valohai.clearRepositoryKey(repositoryId));
    } else {
      saga.skipped('valohai-key', 'Valohai holds no repository settings for this project');
    }
    await saga.step('forget-connection', 'Forgetting the connection', () => ctx.connections.delete(record.repository, record.projectId));
    const targets = connection.manualTargets.length
      ? connection.manualTargets
      : record.targets.map((t) => {
          const [workspace = '', slug = ''] = t.repository.split('/');
          return { workspace, slug, key: t.repository.toLowerCase(), via: '', accessKeysUrl: accessKeysUrl(workspace, slug) };
        });
    result.accessKeys = targets.map((t) => ({ repository: `${t.workspace}/${t.slug}`, id: null, status: 'absent' }));
    // The to-do list outlives the job's outcome: the page shows it on every load until the admin says it is done.
    await saveLeftByHand(ctx.platform.store, ctx.job.workspaceUuid, ctx.job.repositoryUuid, {
      at: ctx.platform.clock.now().toISOString(),
      projectName: record.projectName,
      label: record.label,
      fingerprint: record.fingerprint,
      repositories: targets.map((t) => ({ repository: `${t.workspace}/${t.slug}`, accessKeysUrl: t.accessKeysUrl })),
    });
    result.warnings.push(
      ...targets.map((t) => ({
        code: 'orphan-key' as const,
        repository: `${t.workspace}/${t.slug}`,
        message: `${project && valohai ? 'Valohai no longer holds the key. ' : ''}If the access key "${record.label}" (${record.fingerprint}) was added to ${t.workspace}/${t.slug}, remove it at ${t.accessKeysUrl}`,
      })),
    );
    result.outcome = 'done';
    return result;
  } catch (err) {
    result.error = `${messageOf(err)}\nNothing was removed; try again.`;
    return result;
  }
}

/** The Valohai project page of a connection, for the pages. */
export function projectUrlOf(connection: StoredConnection, host: string): string | null {
  return valohaiProjectUrl(host, connection.projectOwner, connection.record.projectName);
}
