/**
 * connect and rotate with a key Valohai made (Settings › Repository › Generate SSH Key): the app is
 * given the public half only. It goes on every target under the same trust rules as a key the app
 * makes; Valohai is never sent a key. Its URL and fetch reference are written only where its own
 * description of the settings says they are writable, else the result names the exact values to enter
 * there. Then Valohai fetches, and the connection is verified when it lists Bitbucket's head commit.
 *
 * Rotation: the admin generates a new key in Valohai first (fetches fail until its public half is on
 * Bitbucket), then gives it here: it goes on every target, Valohai fetches and is verified, and only
 * then do the connection's old keys leave.
 */
import {
  ensureKeyOnTargets,
  failedRun,
  fetchAndVerify,
  keyTypeOf,
  newTargetWarnings,
  NotConnectedError,
  prepare,
  readInto,
  removeKeys,
  repoName,
  requireRepositoryId,
  verifyCommitted,
  type ConnectInput,
  type Verification,
} from './install';
import { normaliseKey, otherKeys, ourKeys, recordedKeys, lookalikeWarnings } from './keys';
import { counts, OtherConnectionError, otherConnectionKeys, takeOverWarning } from './other-connection';
import { accessKeyLabel } from './label';
import type { WorkflowDeps } from './ports';
import { noteKey, remember } from './record';
import { Saga } from './saga';
import { emptyResult, type AccessKeyOutcome, type ProgressSink, type WorkflowResult } from './types';
import { InvalidPublicKeyError, parsePublicKey, type ParsedPublicKey } from '../ssh/index';

/** Where the admin makes the key, and enters the settings the app may not write. */
export const VALOHAI_KEY_PLACE = "the project's Settings › Repository in Valohai";

/** A public key from Valohai that cannot be used; the message never quotes what was given. */
export class GivenKeyError extends Error {
  constructor(readonly reason: InvalidPublicKeyError['reason'], message: string) {
    super(message);
    this.name = 'GivenKeyError';
  }
}

/**
 * Checks the public half of a key Valohai made: one OpenSSH public key line Bitbucket takes as an access
 * key (RSA of 2048 bits or more, Ed25519, ECDSA). A private key, or anything else, is refused by what it
 * is, never by quoting it.
 */
export function checkGivenPublicKey(text: string): ParsedPublicKey {
  try {
    return parsePublicKey(text);
  } catch (err) {
    if (!(err instanceof InvalidPublicKeyError)) throw err;
    const message =
      err.reason === 'private-key'
        ? 'This is a private key, which must never leave Valohai: it was not used, kept or sent anywhere. Paste the public key Valohai shows beside Generate SSH Key (one line starting with ssh-ed25519, ssh-rsa or ecdsa-sha2-).'
        : `The public key from Valohai cannot be used: ${err.message}`;
    throw new GivenKeyError(err.reason, message);
  }
}

/** The steps still to come once the reads are done. */
function stepsAfterReads(missing: number, old: number): number {
  // Added where missing, Valohai's URL and reference, fetch, verify, each old key removed.
  return missing + 1 + 2 + old;
}

export async function installGiven(
  deps: WorkflowDeps,
  input: ConnectInput & { publicKey: string },
  mode: 'connect' | 'rotate',
  progress: ProgressSink,
): Promise<WorkflowResult> {
  const saga = new Saga(progress);
  const result = emptyResult(`${input.workspace}/${input.repo}`, input.project, input.ref);
  result.keySource = 'valohai';
  try {
    saga.expect(6);
    const given = await saga.step('check-key', 'Checking the public key made in Valohai', async () => checkGivenPublicKey(input.publicKey));
    const wanted = given.normalized;
    Object.assign(result, { keyType: keyTypeOf(wanted), fingerprint: given.fingerprint, publicKey: wanted });
    const { plan, project, targetKeys, submodules, locationWritable } = await prepare(deps, input, mode, saga, 'valohai');
    readInto(result, plan, project);

    const remembered = await deps.store?.get(plan.repository.fullName, project.id);
    if (mode === 'rotate' && !remembered) throw new NotConnectedError(plan.repository.fullName, project.name);
    if (mode === 'rotate' && remembered && normaliseKey(remembered.publicKey) === wanted) {
      throw new Error(
        `This is the key the connection already has. Generate a new key in ${VALOHAI_KEY_PLACE}, then rotate with its public half. Nothing was changed.`,
      );
    }
    const superKeys = targetKeys[0]?.keys ?? [];
    const current = remembered ? superKeys.find((k) => normaliseKey(k.key) === normaliseKey(remembered.publicKey)) : undefined;
    const runner = deps.labelMaker ?? 'app';
    const fetchesHere = project.repository?.url === plan.repository.sshUrl;
    const others = input.others ? otherKeys(superKeys, project.id, remembered, [wanted]).filter(counts) : [];
    if (others.length) result.otherConnection = otherConnectionKeys(others, targetKeys);
    if (others.length && input.others === 'refuse') {
      throw new OtherConnectionError(plan.repository.fullName, project.name, others, fetchesHere, runner);
    }
    if (others.length) result.warnings.push(takeOverWarning(plan.repository.fullName, project.name, others, Boolean(input.dryRun), runner));
    result.warnings.push(
      ...newTargetWarnings(plan, remembered),
      ...lookalikeWarnings(targetKeys, project.id, remembered, [wanted, ...others.map((o) => o.key.key)], runner),
    );

    // The keys this one replaces: the connection's own, never the given one (a connect again keeps it).
    const stale = targetKeys.flatMap(({ target, keys }) =>
      ourKeys(keys, remembered)
        .filter((k) => normaliseKey(k.key) !== wanted)
        .map((k) => ({ target, key: k })),
    );
    const settings = { url: plan.repository.sshUrl, ref: plan.ref };
    const inPlace = project.repository?.url === settings.url && project.repository?.ref === settings.ref;
    const missing = targetKeys.filter(({ keys }) => !keys.some((k) => normaliseKey(k.key) === wanted)).length;
    saga.expect(stepsAfterReads(missing, stale.length));

    if (input.dryRun) {
      result.accessKeys = [
        ...targetKeys.map(({ target, keys }): AccessKeyOutcome => {
          const have = keys.find((k) => normaliseKey(k.key) === wanted);
          return { repository: repoName(target), id: have?.id ?? null, status: have ? 'present' : 'planned' };
        }),
        ...stale.map(({ target, key }): AccessKeyOutcome => ({ repository: repoName(target), id: key.id, status: 'remove-planned' })),
      ];
      if (!inPlace) result.valohaiSettings = { ...settings, written: false };
      result.outcome = 'done';
      return result;
    }

    const repositoryId = requireRepositoryId(project);
    const now = deps.clock?.now() ?? new Date();
    // A connect again with the connection's own key keeps its label; a new key gets a new one.
    const label = current && normaliseKey(current.key) === wanted ? current.label : accessKeyLabel(project.name, project.id, now, deps.labelMaker);
    const keyType = keyTypeOf(wanted) ?? 'rsa';
    await noteKey(deps, saga, plan, project, remembered, { publicKey: wanted, fingerprint: given.fingerprint, type: keyType }, label, now, submodules, 'valohai');
    const undoable = mode === 'connect' && !remembered;
    result.accessKeys = await ensureKeyOnTargets(deps, saga, targetKeys, wanted, label, undoable);

    // Valohai's URL and fetch reference: already right, written where Valohai says it takes them, or
    // left for the admin to enter (then nothing is fetched: it would fetch the wrong thing, or nothing).
    if (inPlace) {
      saga.skipped('valohai-location', "Valohai's repository URL and fetch reference are already this repository's");
    } else if (locationWritable) {
      await saga.step('valohai-location', 'Giving Valohai the repository URL and fetch reference (no key: Valohai made its own)', () =>
        deps.valohai.setRepositoryLocation(repositoryId, settings),
      );
      result.valohaiSettings = { ...settings, written: true };
    } else {
      saga.skipped('valohai-location', 'Valohai does not say it takes the repository URL and fetch reference: enter them there');
      saga.commit(); // the key is on every target, where Valohai's own key needs it: it stays
      result.valohaiSettings = { ...settings, written: false };
      result.outcome = 'unverified';
      result.error =
        `The key is on every repository, but the app could not confirm it may set Valohai's repository settings. In ${VALOHAI_KEY_PLACE}, enter ` +
        `URL "${settings.url}" and Fetch reference "${settings.ref}", then connect again with the same public key: Valohai then fetches and the connection is verified.`;
      if (stale.length) {
        result.leftovers = stale.map(({ target, key }) => `old access key ${key.id} on ${repoName(target)} (kept until Valohai verifiably fetches with the new key)`);
      }
      await remember(deps, plan, project, wanted, keyType, label, now, result, submodules, retiredOf(remembered, wanted), 'valohai');
      return result;
    }

    const fetchPlan = { ...plan, sshUrl: plan.repository.sshUrl };
    const verification: Verification = undoable ? await fetchAndVerify(deps, saga, project.id, fetchPlan) : await verifyCommitted(deps, saga, project.id, fetchPlan);
    saga.commit();
    result.valohai.fetchedCommit = verification.fetchedCommit;
    result.verified = verification.verified;
    if (!verification.verified) {
      result.outcome = 'unverified';
      // The key is on every target: a refusal means Valohai holds another key than the one given, and
      // the usual advice (add the key where it is missing) would not mend it.
      result.error = verification.keyRefused
        ? 'Bitbucket refused the key Valohai fetched with, so Valohai holds another key than the one given here (a key generated again replaces the one before). ' +
          `Copy the public key from ${VALOHAI_KEY_PLACE} again and connect with it.`
        : verification.errors.join('\n');
      if (stale.length) {
        result.leftovers = stale.map(({ target, key }) => `old access key ${key.id} on ${repoName(target)} (kept until Valohai verifiably fetches with the new key)`);
      }
      await remember(deps, plan, project, wanted, keyType, label, now, result, submodules, retiredOf(remembered, wanted), 'valohai');
      return result;
    }

    // Verified: only now may the keys this one replaces leave Bitbucket.
    const failedDeletes = await removeKeys(deps, saga, stale, result);
    const stillOut = new Set(failedDeletes.map((f) => normaliseKey(f.key.key)));
    await remember(deps, plan, project, wanted, keyType, label, now, result, submodules, retiredOf(remembered, wanted).filter((k) => stillOut.has(k)), 'valohai');
    if (failedDeletes.length) {
      result.outcome = 'failed';
      result.leftovers = failedDeletes.map((f) => f.what);
      result.error = 'The new key works, but old keys could not be removed. Rotate again with the same public key to remove them.';
      return result;
    }
    result.outcome = 'done';
    return result;
  } catch (err) {
    return failedRun(saga, result, err);
  }
}

/** The connection's keys other than `wanted`: removed wherever found once `wanted` is verified. */
function retiredOf(remembered: Parameters<typeof recordedKeys>[0], wanted: string): string[] {
  return [...recordedKeys(remembered)].filter((k) => k !== wanted);
}
