/**
 * connect and rotate: put a key on every target, hand it to Valohai, verify, and only then remove the
 * keys it replaces. The invariant: the key Valohai holds is always an access key on every repository it
 * must fetch. New keys go on every target before Valohai receives them; old keys leave only after
 * Valohai verifiably fetches with the new one.
 */
import { discover, type DiscoverInput, type Plan } from './discover';
import { explainFetchError, messageOf, refusedOutright } from './explain';
import { currentKey, keyInWords, listTargetKeys, lookalikeWarnings, normaliseKey, otherKeys, ourKeys, recordedKeys, type TargetKeys } from './keys';
import { counts, OtherConnectionError, otherConnectionKeys, takeOverWarning } from './other-connection';
import { accessKeyLabel } from './label';
import type { AccessKeyInfo, ConnectionRecord, GeneratedKey, ValohaiProjectInfo, WorkflowDeps } from './ports';
import { checkBudget } from './budget';
import { findingProject, forEachBounded, foundProject, mapBounded, Saga } from './saga';
import { fetchesElsewhere, ProjectInUseError, ProjectMovedError } from './project-use';
import { authorise, TargetsGrewError, unrecordedTargets } from './trust';
import { fingerprintOf, noteKey, remember } from './record';
import { emptyResult, type AccessKeyOutcome, type KeyType, type ProgressSink, type RecordedKeyType, type Target, type Warning, type WorkflowResult } from './types';

export interface ConnectInput extends Omit<DiscoverInput, 'submodules'> {
  /**
   * Whether the key goes on submodule repositories. Connect: required. Rotate: default the connection's
   * recorded choice, so a connection made without submodules never gains them by a rotation.
   */
  submodules?: boolean;
  /** Valohai project id or `owner/name`. */
  project: string;
  keyType?: KeyType;
  /** Report the plan; change nothing. */
  dryRun?: boolean;
  /**
   * Connect a project whose repository settings name another repository, re-pointing it here. Without
   * it, such a project stops connect before anything changes (ProjectInUseError).
   */
  moveProject?: boolean;
  /**
   * Work nobody started (automatic rotation, a bulk action's item): the key may go only on repositories
   * the connection records. A target `.gitmodules` added since stops it before anything changes
   * (TargetsGrewError); the person who may add it does so with their own connect or rotate.
   */
  restoreOnly?: boolean;
  /**
   * A connection of this repository and project that the store does not record (its key labelled for
   * the project, made in the app or with the CLI elsewhere): 'refuse' stops before anything changes,
   * naming it (OtherConnectionError); 'take-over' replaces the key Valohai holds for it and says so.
   * When this run's own connection holds the key, only another key Bitbucket saw used since counts.
   * Absent: not looked for.
   */
  others?: 'refuse' | 'take-over';
  /**
   * The public half of a key pair Valohai made (Settings › Repository › Generate SSH Key): connect and
   * rotate then put this key on the targets instead of making one, and never write a key to Valohai
   * (given-key.ts). Absent: the app makes the key pair and gives Valohai its private half.
   */
  publicKey?: string;
}

/** Why a connection whose key Valohai made cannot be rotated with a key the app makes. */
export const VALOHAI_KEY_ROTATION =
  "This connection's key was made in Valohai, and the app never holds a key Valohai can use: generate a new key in Valohai " +
  '(Settings › Repository › Generate SSH Key), then rotate with its public half. Nothing was changed.';

/** Errors that stop a workflow before anything changed; their message is the whole story. */
export class AccessCheckError extends Error {
  constructor(readonly problems: { repository: string; message: string; refused: boolean }[]) {
    // A refusal is the token's to fix; an outage or a timeout is not, and saying "cannot manage" would mislead.
    const refused = problems.every((p) => p.refused);
    const where = problems.length === 1 ? 'this repository' : 'these repositories';
    const headline = refused
      ? `The Bitbucket API token cannot manage access keys on ${where}; nothing was changed:`
      : `The access keys of ${where} could not be read, so nothing was changed:`;
    super(`${headline}\n${problems.map((p) => `  - ${p.repository}: ${p.message}`).join('\n')}`);
    this.name = 'AccessCheckError';
  }
}

/**
 * A .gitmodules that cannot be read hides repositories Valohai fetches: a key handed over then would
 * not be on all of them, so connect and rotate stop before changing anything.
 */
export class UnreadableGitmodulesError extends Error {
  constructor(readonly warnings: Warning[]) {
    // The warnings' own advice ("skipped; connect again") does not apply here: keep their finding only.
    const findings = warnings.map((w) => `${w.message.replace(/\.* Its submodules were skipped;.*$/s, '')}.`);
    super(
      `${findings.join('\n')}\n` +
        'Nothing was changed: without those submodules the key would not reach every repository Valohai fetches. ' +
        'Once .gitmodules reads cleanly, start it again. If Valohai needs no submodules, connect this repository only (--no-submodules on the CLI).',
    );
    this.name = 'UnreadableGitmodulesError';
  }
}

/** rotate with no connection on record: no key is known to be this app's. */
export class NotConnectedError extends Error {
  constructor(repository: string, projectName: string) {
    super(`No connection of ${repository} to Valohai project ${projectName} is on record here, so no key is known to be this app's. Run connect first.`);
    this.name = 'NotConnectedError';
  }
}

export function repoName(t: Target): string {
  return `${t.workspace}/${t.slug}`;
}


export function lockName(input: { workspace: string; repo: string }): string {
  return `repo:${input.workspace}/${input.repo}`.toLowerCase();
}

/**
 * Reads what the workflow needs before changing anything: plan, project, each target's keys. Every
 * target is authorised for the person acting, and the rest of the work checked against the request
 * budget, before the first key is read.
 */
export async function prepare(
  deps: WorkflowDeps,
  input: Omit<DiscoverInput, 'submodules'> & { submodules?: boolean; project: string; moveProject?: boolean; restoreOnly?: boolean },
  mode: 'connect' | 'rotate',
  saga: Saga,
  keyFrom: 'app' | 'valohai' = 'app',
) {
  const concurrency = deps.concurrency ?? 8;
  const findProject = () => saga.step('valohai-project', findingProject(input.project), () => deps.valohai.findProject(input.project), foundProject);
  let submodules = input.submodules;
  let found: ValohaiProjectInfo | undefined;
  if (submodules === undefined) {
    // The connection's own choice: its record is found by the project, so the project is read first.
    found = await findProject();
    submodules = (await deps.store?.get(`${input.workspace}/${input.repo}`, found.id))?.submodules ?? true;
  }
  const [plan, project] = await Promise.all([
    saga.step('read-repository', `Reading ${input.workspace}/${input.repo}${submodules ? ' and its submodules' : ''} on Bitbucket`, async () => {
      const found = await discover(deps.bitbucket, { concurrency, ...input, submodules: submodules as boolean });
      const unreadable = found.warnings.filter((w) => w.code === 'gitmodules-unreadable');
      if (unreadable.length) throw new UnreadableGitmodulesError(unreadable);
      return found;
    }),
    found ? Promise.resolve(found) : findProject(),
  ]);
  // Valohai's settings are read before they are written: a project fetching another repository is not ours to take.
  const elsewhere = fetchesElsewhere(project.repository?.url, plan.repository);
  if (elsewhere && mode === 'rotate') throw new ProjectMovedError(project.name, elsewhere);
  if (elsewhere && !input.moveProject) throw new ProjectInUseError(project.name, elsewhere);
  // Valohai's repository settings are asked whether they take what the app will write, before any key
  // exists anywhere: a refusal stops here, with nothing on Bitbucket to take back.
  // A key Valohai made is never written: only whether the URL and fetch reference may be is asked.
  const repository = project.repository;
  let locationWritable = false;
  if (repository && keyFrom === 'valohai') {
    locationWritable = await saga.step(
      'valohai-preflight',
      'Checking whether Valohai takes the repository URL and fetch reference',
      () => deps.valohai.repositoryLocationWritable(repository.id),
      (yes) => (yes ? 'Valohai takes the repository URL and fetch reference' : 'Valohai does not say it takes the repository URL and fetch reference: they are to be entered there'),
    );
  } else if (repository) {
    await saga.step('valohai-preflight', 'Checking Valohai takes the repository URL, fetch reference and key', () =>
      deps.valohai.checkRepositoryWrite(repository.id),
    );
  }
  if (input.restoreOnly) {
    const remembered = await deps.store?.get(plan.repository.fullName, project.id);
    const grown = unrecordedTargets(plan.targets, remembered?.targets);
    if (grown.length) throw new TargetsGrewError(grown.map((t) => ({ repository: repoName(t), via: t.via })));
  }
  const n = plan.targets.length;
  await saga.step('authorise', `Checking you may give the key to ${n} ${n === 1 ? 'repository' : 'repositories'}`, async () => {
    await authorise(deps.authority, plan.targets);
    // Keys listed, added and replaced on each target: refused now rather than cut off by a 429 half way.
    checkBudget(deps.budget, 3 * n);
  });
  const targetKeys = await saga.step(
    'check-access',
    `Checking the token can manage access keys on ${plan.targets.length} ${plan.targets.length === 1 ? 'repository' : 'repositories'}`,
    async () => {
      const settled = await mapBounded(plan.targets, concurrency, (t) =>
        listTargetKeys(deps.bitbucket, t).then(
          (value): PromiseSettledResult<TargetKeys> => ({ status: 'fulfilled', value }),
          (reason: unknown): PromiseSettledResult<TargetKeys> => ({ status: 'rejected', reason }),
        ),
      );
      const problems = settled.flatMap((s, i) =>
        s.status === 'rejected'
          ? [{ repository: repoName(plan.targets[i] as Target), message: messageOf(s.reason), refused: refusedOutright(s.reason) }]
          : [],
      );
      if (problems.length) throw new AccessCheckError(problems);
      // Once more with what the listings' answers said is left (the reads may have gone another way):
      // the adds and removals must fit before the first of them.
      checkBudget(deps.budget, 2 * n);
      return settled.map((s) => (s as PromiseFulfilledResult<TargetKeys>).value);
    },
  );
  return { plan, project, targetKeys, submodules, locationWritable };
}

/** What the reads found, into the result: the repository, its reference and head, the project. */
export function readInto(result: WorkflowResult, plan: Plan, project: ValohaiProjectInfo): void {
  Object.assign(result, {
    repository: plan.repository.fullName,
    sshUrl: plan.repository.sshUrl,
    ref: plan.ref,
    headCommit: plan.headCommit,
    warnings: [...plan.warnings],
    valohai: { projectId: project.id, repositoryId: project.repository?.id ?? null, fetchedCommit: null },
  } satisfies Partial<WorkflowResult>);
}

export function requireRepositoryId(project: ValohaiProjectInfo): number {
  if (!project.repository) {
    throw new Error(
      `Valohai project ${project.name} has no repository settings yet. Open the project's Settings > Repository in Valohai once, then connect again.`,
    );
  }
  return project.repository.id;
}

/** Ensures `publicKey` is on every target, in parallel; registers undo for keys it adds when asked. */
export async function ensureKeyOnTargets(
  deps: WorkflowDeps,
  saga: Saga,
  targetKeys: TargetKeys[],
  publicKey: string,
  label: string,
  undoable: boolean,
): Promise<AccessKeyOutcome[]> {
  const wanted = normaliseKey(publicKey);
  const outcomes: AccessKeyOutcome[] = [];
  await forEachBounded(targetKeys, deps.concurrency ?? 8, async ({ target, keys }) => {
    const name = repoName(target);
    const have = keys.find((k) => normaliseKey(k.key) === wanted);
    if (have) {
      outcomes.push({ repository: name, id: have.id, status: 'present' });
      return;
    }
    const added = await saga.step(`add-key:${name}`, `Adding the access key to ${name}`, async () => {
      try {
        return await deps.bitbucket.addAccessKey(target.workspace, target.slug, { key: publicKey, label });
      } catch (err) {
        // A retried add whose first attempt landed answers "already added": find the key and go on.
        if ((err as Error).name !== 'AccessKeyAlreadyPresentError') throw err;
        const now = await deps.bitbucket.listAccessKeys(target.workspace, target.slug);
        const found = now.find((k) => normaliseKey(k.key) === wanted);
        if (!found) throw err;
        return found;
      }
    });
    outcomes.push({ repository: name, id: added.id, status: 'added' });
    if (undoable) {
      saga.onUndo(`add-key:${name}`, `access key ${added.id} on ${name}`, async () => {
        await deps.bitbucket.deleteAccessKey(target.workspace, target.slug, added.id);
      });
    }
  });
  const order = new Map(targetKeys.map((t, i) => [repoName(t.target), i]));
  return outcomes.sort((a, b) => (order.get(a.repository) ?? 0) - (order.get(b.repository) ?? 0));
}

export interface Verification {
  verified: boolean;
  fetchedCommit: string | null;
  errors: string[];
  newCommits: string[];
  /** Bitbucket refused the key Valohai fetched with (git's "Permission denied (publickey)"). */
  keyRefused?: boolean;
}

const KEY_REFUSED = /Permission denied \(publickey\)|deployment key is not associated/i;

/** Asks Valohai to fetch, then checks Bitbucket's head commit is among Valohai's commits. */
export async function fetchAndVerify(
  deps: Pick<WorkflowDeps, 'valohai'>,
  saga: Saga,
  projectId: string,
  plan: Pick<Plan, 'headCommit' | 'ref'> & { sshUrl: string },
): Promise<Verification> {
  const fetched = await saga.step('valohai-fetch', 'Asking Valohai to fetch the repository', () =>
    deps.valohai.fetchRepository(projectId),
  );
  const newCommits = fetched.commits.map((c) => c.identifier);
  if (fetched.errors.length) {
    return {
      verified: false,
      fetchedCommit: null,
      errors: fetched.errors.map((e) => explainFetchError(e, { ref: plan.ref, sshUrl: plan.sshUrl })),
      newCommits,
      keyRefused: fetched.errors.some((e) => KEY_REFUSED.test(e)),
    };
  }
  const commits = await saga.step('verify', `Checking Valohai sees ${plan.headCommit.slice(0, 12)}`, () =>
    newCommits.includes(plan.headCommit) ? Promise.resolve(fetched.commits) : deps.valohai.listCommits(projectId, 100),
  );
  const seen = commits.some((c) => c.identifier === plan.headCommit);
  return {
    verified: seen,
    fetchedCommit: seen ? plan.headCommit : (commits[0]?.identifier ?? null),
    errors: seen
      ? []
      : [
          `Valohai fetched without errors but does not list ${plan.headCommit.slice(0, 12)}, the head of "${plan.ref}" on Bitbucket. ` +
            `Check that Valohai's fetch reference is "${plan.ref}", then run "Verify" again.`,
        ],
    newCommits,
  };
}

/**
 * fetchAndVerify once nothing can be undone: Valohai holds a key that is on every target, so a fetch or
 * commit listing that fails leaves the connection configured but unverified, not failed.
 */
export async function verifyCommitted(
  deps: Pick<WorkflowDeps, 'valohai'>,
  saga: Saga,
  projectId: string,
  plan: Pick<Plan, 'headCommit' | 'ref'> & { sshUrl: string },
): Promise<Verification> {
  try {
    return await fetchAndVerify(deps, saga, projectId, plan);
  } catch (err) {
    return { verified: false, fetchedCommit: null, errors: [messageOf(err)], newCommits: [] };
  }
}

export function keyTypeOf(line: string): RecordedKeyType | null {
  const type = line.trim().split(/\s+/)[0] ?? '';
  return type === 'ssh-rsa' ? 'rsa' : type === 'ssh-ed25519' ? 'ed25519' : type.startsWith('ecdsa-sha2-') ? 'ecdsa' : null;
}

/**
 * connect when `mode` is 'connect' (an existing, matching connection is verified, not replaced), rotate
 * when 'rotate' (always a new key, make-before-break), with a key pair the app makes. The caller holds
 * the repository's lock (connect.ts).
 */
export async function installLocked(
  deps: WorkflowDeps,
  input: ConnectInput,
  mode: 'connect' | 'rotate',
  progress: ProgressSink,
): Promise<WorkflowResult> {
  const saga = new Saga(progress);
  const result = emptyResult(`${input.workspace}/${input.repo}`, input.project, input.ref);
  const keyType = input.keyType ?? 'rsa';
  let generated: Promise<GeneratedKey> | undefined;
  try {
    // Key generation (seconds for RSA 4096) starts first and overlaps the reads; it is used only if needed.
    if (!input.dryRun) {
      const comment = `valohai-${input.project.replace(/[^A-Za-z0-9._-]+/g, '-')}`;
      generated = deps.generateKey({ type: keyType, comment });
      generated.catch(() => {});
    }
    // The reads and Valohai's preflight, then a key made, given to Valohai, fetched and verified; the keys per repository follow once known.
    saga.expect(input.dryRun ? 5 : 9);
    const prepared = prepare(deps, input, mode, saga);
    const { plan, project, targetKeys, submodules } = await prepared;
    readInto(result, plan, project);

    const superKeys = targetKeys[0]?.keys ?? [];
    const remembered = await deps.store?.get(plan.repository.fullName, project.id);
    // The connection's key is the one it recorded, never one found by its label.
    const current = currentKey(superKeys, remembered);
    const valohaiMatches =
      project.repository?.url === plan.repository.sshUrl && project.repository?.ref === plan.ref;
    const runner = deps.labelMaker ?? 'app';
    const fetchesHere = project.repository?.url === plan.repository.sshUrl;
    const others = input.others ? otherKeys(superKeys, project.id, remembered).filter(counts) : [];
    if (others.length) result.otherConnection = otherConnectionKeys(others, targetKeys);
    if (others.length && input.others === 'refuse') {
      throw new OtherConnectionError(plan.repository.fullName, project.name, others, fetchesHere, runner, mode);
    }
    // Said once Valohai holds the new key (a run stopped before then replaced nothing); a dry run says what it would do.
    const tookOver = () => result.warnings.push(takeOverWarning(plan.repository.fullName, project.name, others, Boolean(input.dryRun), runner));
    if (others.length && input.dryRun) tookOver();
    const takenOver = others.map((o) => o.key.key);
    result.warnings.push(...newTargetWarnings(plan, remembered), ...lookalikeWarnings(targetKeys, project.id, remembered, takenOver, runner));

    if (mode === 'rotate' && !remembered) throw new NotConnectedError(plan.repository.fullName, project.name);
    // Work nobody started (the key-age policy, a bulk rotation) must not turn Valohai's key into one the app writes.
    if (mode === 'rotate' && remembered?.keySource === 'valohai') throw new Error(VALOHAI_KEY_ROTATION);
    // Taking over: Valohai holds the other connection's key, so the current one is not kept but replaced.
    const kept = current && valohaiMatches && !takenOver.length ? current : undefined;
    saga.expect(plannedSteps(input, mode, kept, targetKeys, remembered));
    if (mode === 'connect' && kept) {
      const again = await reverify(deps, saga, { ...input, submodules }, result, plan, project, targetKeys, kept);
      if (again !== 'replace-key') return again;
      // Fall through: a new key, make-before-break as in rotate; the keys Valohai cannot use leave once it fetches.
    }
    if (input.dryRun) return planOnly(result, targetKeys, keyType, remembered);

    const repositoryId = requireRepositoryId(project);
    const key = await saga.step('generate-key', `Generating an ${keyType === 'rsa' ? 'RSA 4096' : 'Ed25519'} key pair`, () =>
      generated as Promise<GeneratedKey>,
    );
    const now = deps.clock?.now() ?? new Date();
    const label = accessKeyLabel(project.name, project.id, now, deps.labelMaker);
    Object.assign(result, { keyType: key.type, fingerprint: key.fingerprint, publicKey: key.publicKey });

    // On record before it goes anywhere: a key that could not be taken back is still known to be ours.
    await noteKey(deps, saga, plan, project, remembered, key, label, now, submodules);
    result.accessKeys = await ensureKeyOnTargets(deps, saga, targetKeys, key.publicKey, label, true);

    try {
      await saga.step('valohai-key', 'Giving Valohai the repository URL, fetch reference and private key', () =>
        deps.valohai.setRepository(repositoryId, { url: plan.repository.sshUrl, ref: plan.ref, sshPrivateKey: key.privateKey }),
      );
    } catch (err) {
      if (refusedOutright(err)) throw err; // Valohai kept what it had: undo the new keys
      // Valohai may or may not hold the new key now: it must stay on every target.
      saga.commit();
      result.leftovers = result.accessKeys
        .filter((a) => a.status === 'added')
        .map((a) => `new access key ${a.id} on ${a.repository} (kept: Valohai may hold it)`);
      result.error = `${messageOf(err)}\nValohai may or may not have received the new key, so it stays on every repository and fetching keeps working. Start it again to finish.`;
      return result;
    }
    if (others.length) tookOver();
    // A fresh connection can be taken back whole, but not one taken over: Valohai held the other
    // connection's key, which the app cannot give back, so the new one stays once Valohai has it.
    const undoable = mode === 'connect' && !current && !takenOver.length;
    if (undoable) {
      // A fresh connection can be taken back whole: Valohai forgets the key, then the keys go.
      saga.onUndo('valohai-key', 'the private key given to Valohai', () => deps.valohai.clearRepositoryKey(repositoryId));
    } else {
      saga.commit(); // Valohai now holds the new key: nothing before this point may be undone.
    }

    const fetchPlan = { ...plan, sshUrl: plan.repository.sshUrl };
    const verification = undoable
      ? await fetchAndVerify(deps, saga, project.id, fetchPlan)
      : await verifyCommitted(deps, saga, project.id, fetchPlan);
    saga.commit();
    result.valohai.fetchedCommit = verification.fetchedCommit;
    result.verified = verification.verified;
    const stale = targetKeys.flatMap(({ target, keys }) =>
      ourKeys(keys, remembered)
        .filter((k) => normaliseKey(k.key) !== normaliseKey(key.publicKey))
        .map((k) => ({ target, key: k })),
    );
    const retired = [...recordedKeys(remembered)].filter((k) => k !== normaliseKey(key.publicKey));
    if (!verification.verified) {
      result.outcome = 'unverified';
      result.error = verification.errors.join('\n');
      if (stale.length) {
        result.leftovers = stale.map(({ target, key: k }) => `old access key ${k.id} on ${repoName(target)} (kept until Valohai verifiably fetches with the new key)`);
        result.error += `\nThe old keys stay until then. Run rotate once Valohai can fetch: it verifies a new key, then removes the old ones.`;
      }
      await remember(deps, plan, project, key.publicKey, keyType, label, now, result, submodules, retired);
      return result;
    }

    // Verified: only now may the keys this one replaces leave Bitbucket.
    const failedDeletes = await removeKeys(deps, saga, stale, result);
    const stillOut = new Set(failedDeletes.map((f) => normaliseKey(f.key.key)));
    await remember(deps, plan, project, key.publicKey, keyType, label, now, result, submodules, retired.filter((k) => stillOut.has(k)));
    if (failedDeletes.length) {
      result.outcome = 'failed';
      result.leftovers = failedDeletes.map((f) => f.what);
      result.error = `The new key works, but old keys could not be removed. Run rotate again to remove them.`;
      return result;
    }
    result.outcome = 'done';
    return result;
  } catch (err) {
    return failedRun(saga, result, err);
  } finally {
    await generated?.catch(() => undefined); // never leave key generation running unobserved
  }
}

/**
 * A run that stopped: everything registered is undone, newest first, and the result says what could
 * not be (the keys it added that went are reported as deleted).
 */
export async function failedRun(saga: Saga, result: WorkflowResult, err: unknown): Promise<WorkflowResult> {
  const failures = await saga.rollback();
  result.outcome = 'failed';
  result.verified = false;
  result.error = messageOf(err);
  if (failures.length) {
    result.leftovers = failures.map((f) => `${f.what} (could not be undone: ${messageOf(f.error)})`);
    result.error += `\nStart it again to clean up.`;
  }
  result.accessKeys = result.accessKeys.map((a) =>
    a.status === 'added' && !result.leftovers?.some((l) => l.includes(`key ${a.id} on ${a.repository}`)) ? { ...a, status: 'deleted' } : a,
  );
  return result;
}

/** The steps still to come once the reads are done, as the paths below take them. */
function plannedSteps(
  input: ConnectInput,
  mode: 'connect' | 'rotate',
  current: AccessKeyInfo | undefined,
  targetKeys: TargetKeys[],
  remembered: ConnectionRecord | undefined,
): number {
  if (input.dryRun) return 0;
  if (mode === 'connect' && current) {
    // Kept key (a skipped generate step), added where it is missing, fetched and verified.
    const missing = targetKeys.filter(({ keys }) => !keys.some((k) => normaliseKey(k.key) === normaliseKey(current.key))).length;
    return 1 + missing + 2;
  }
  // A new key: made, added everywhere, given to Valohai, fetched, verified; then each old key removed.
  const old = targetKeys.reduce((n, { keys }) => n + ourKeys(keys, remembered).length, 0);
  return 1 + targetKeys.length + 1 + 2 + old;
}

export async function removeKeys(
  deps: WorkflowDeps,
  saga: Saga,
  stale: { target: Target; key: AccessKeyInfo }[],
  result: WorkflowResult,
): Promise<{ what: string; key: AccessKeyInfo }[]> {
  const failed: { what: string; key: AccessKeyInfo }[] = [];
  // Reported in the order of the targets, however the parallel removals finish.
  const outcomes = new Array<AccessKeyOutcome>(stale.length);
  await forEachBounded([...stale.entries()], deps.concurrency ?? 8, async ([i, { target, key }]) => {
    const name = repoName(target);
    try {
      await saga.step(`delete-key:${name}:${key.id}`, `Removing the old access key ${keyInWords(key)} from ${name}`, () =>
        deps.bitbucket.deleteAccessKey(target.workspace, target.slug, key.id),
      );
      outcomes[i] = { repository: name, id: key.id, status: 'deleted' };
    } catch (err) {
      failed.push({ what: `old access key ${key.id} on ${name} (${messageOf(err)})`, key });
      outcomes[i] = { repository: name, id: key.id, status: 'failed' };
    }
  });
  result.accessKeys.push(...outcomes);
  return failed;
}

/** Targets the recorded connection did not have: a submodule added since, which now gets the key. */
export function newTargetWarnings(plan: Plan, remembered: ConnectionRecord | undefined): Warning[] {
  if (!remembered || remembered.targets.length === 0) return [];
  const known = new Set(remembered.targets.map((t) => t.repository.toLowerCase()));
  return plan.targets
    .filter((t) => !known.has(t.key))
    .map((t) => ({
      code: 'new-target' as const,
      repository: repoName(t),
      message: `${repoName(t)} (submodule ${t.via}) was not part of this connection when it was made; it was checked and now gets the key too.`,
    }));
}

/** An existing connection that matches: add its key where a new submodule lacks it, then verify. */
async function reverify(
  deps: WorkflowDeps,
  saga: Saga,
  input: ConnectInput,
  result: WorkflowResult,
  plan: Plan,
  project: ValohaiProjectInfo,
  targetKeys: TargetKeys[],
  current: AccessKeyInfo,
): Promise<WorkflowResult | 'replace-key'> {
  Object.assign(result, { keyType: keyTypeOf(current.key), fingerprint: fingerprintOf(current.key) });
  if (input.dryRun) {
    result.accessKeys = targetKeys.map(({ target, keys }) => {
      const have = keys.find((k) => normaliseKey(k.key) === normaliseKey(current.key));
      return { repository: repoName(target), id: have?.id ?? null, status: have ? 'present' : 'planned' };
    });
    result.outcome = 'done';
    return result;
  }
  saga.skipped('generate-key', 'Already connected: keeping the current key');
  // The current key is already what Valohai holds: adding it to a new target only widens access.
  result.accessKeys = await ensureKeyOnTargets(deps, saga, targetKeys, current.key, current.label, false);
  saga.commit();
  const verification = await verifyCommitted(deps, saga, project.id, { ...plan, sshUrl: plan.repository.sshUrl });
  if (verification.keyRefused) {
    // The key is on every target, yet Bitbucket refused Valohai's: Valohai holds another key or none (a
    // disconnect stopped after clearing Valohai, or someone changed it there). Only a new key mends that.
    await saga.step('replace-key', "Bitbucket refused Valohai's key: Valohai no longer holds the connection's key, so it gets a new one", async () => {});
    result.accessKeys = [];
    return 'replace-key';
  }
  result.valohai.fetchedCommit = verification.fetchedCommit;
  result.verified = verification.verified;
  result.outcome = verification.verified ? 'done' : 'unverified';
  if (!verification.verified) result.error = verification.errors.join('\n');
  const created = current.createdOn ? new Date(current.createdOn) : deps.clock?.now() ?? new Date();
  const remembered = await deps.store?.get(plan.repository.fullName, project.id);
  // The kept key is the recorded one: where it was made stays on record.
  const keySource = remembered && normaliseKey(remembered.publicKey) === normaliseKey(current.key) ? remembered.keySource : undefined;
  if (keySource) result.keySource = keySource;
  await remember(deps, plan, project, current.key, result.keyType ?? 'rsa', current.label, created, result, input.submodules ?? true, remembered?.retired ?? [], keySource);
  return result;
}

/**
 * A dry run's result: the new key on every target ('planned'), and the keys it would replace once
 * Valohai verifiably fetches with it ('remove-planned'). Nothing is made, written or removed.
 */
function planOnly(result: WorkflowResult, targetKeys: TargetKeys[], keyType: KeyType, remembered: ConnectionRecord | undefined): WorkflowResult {
  result.keyType = keyType;
  result.accessKeys = [
    ...targetKeys.map(({ target }): AccessKeyOutcome => ({ repository: repoName(target), id: null, status: 'planned' })),
    ...targetKeys.flatMap(({ target, keys }) =>
      ourKeys(keys, remembered).map((k): AccessKeyOutcome => ({ repository: repoName(target), id: k.id, status: 'remove-planned' })),
    ),
  ];
  result.outcome = 'done';
  return result;
}

export type { Warning };
