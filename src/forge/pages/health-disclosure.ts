/**
 * A connection's health as one viewer may see it. The checks read keys with the stored token, a
 * workspace admin's, which reaches repositories the viewer (a repository admin) may not even know
 * exist: a finding, key notice, needs-admin entry or change about such a repository would tell them
 * its name, its keys' labels and fingerprints. So every repository a health view names, other than the
 * page's own, is shown only to a viewer Bitbucket lets see it, asked as the viewer (never with the
 * stored token), per page load: nothing is cached across viewers. Workspace admins see everything.
 *
 * A hidden entry keeps its kind (code, severity, time) and loses everything about the repository: its
 * text is rebuilt from the code, never edited, because messages embed names, labels and fingerprints.
 */
import { callerRepositoryPermission, getWorkspaceMembership, type BitbucketTransport } from '../../bitbucket/index';
import { mapBounded } from '../../connect/index';
import { HIDDEN_REPOSITORY, type HealthChange, type HealthEntry, type HealthFinding, type HealthFindingCode, type HealthView, type KeyNotice } from '../contract';
import type { ForgePlatform, TrustedContext } from '../platform/ports';

export { HIDDEN_REPOSITORY };

/** Repositories asked about for one page load; any beyond are hidden (a page load stays a few requests). */
export const MAX_VISIBILITY_ASKS = 10;
const CONCURRENCY = 5;

const HIDDEN_FIX = 'A workspace admin, or an admin of that repository, sees which one it is on this page.';

/** The neutral sentence for a finding about a hidden repository, by its code alone. */
function hiddenMessage(code: HealthFindingCode): string {
  switch (code) {
    case 'key-missing':
      return "A repository you cannot see lacks the connection's key, so Valohai cannot fetch it.";
    case 'needs-admin':
      return "A repository you cannot see lacks the connection's key, and the connection's account may not add it there.";
    case 'repair-failed':
      return "The connection's key could not be put back on a repository you cannot see.";
    case 'keys-unreadable':
      return 'The access keys of a repository you cannot see could not be read.';
    case 'unused-key':
      return "The connection's key on a repository you cannot see has not been used for a long time.";
    case 'unneeded-key':
      return "A repository you cannot see holds this connection's key, which Valohai no longer fetches with there.";
    case 'stray-key':
      return "A repository you cannot see holds an access key labelled like this app's that no connection recorded.";
    default:
      return 'The latest check found something about a repository you cannot see.';
  }
}

const HIDDEN_NEEDS_ADMIN_REASON = "The connection's account may not add the key there; one of its admins must.";

/** Every repository a view names, in the order a reader meets them, each once (lower case). */
function namedRepositories(view: HealthView): string[] {
  const named = [
    ...(view.latest?.findings ?? []).flatMap((f) => (f.repository ? [f.repository] : [])),
    ...view.needsAdmin.map((n) => n.repository),
    ...view.keyNotices.map((n) => n.repository),
    ...(view.latest?.changes ?? []).map((c) => c.repository),
    ...view.recentChanges.map((c) => c.repository),
  ];
  return [...new Set(named.map((r) => r.toLowerCase()))];
}

/** Whether `may` lets the viewer see `repository`. */
type MaySee = (repository: string) => boolean;

function finding(f: HealthFinding, may: MaySee): HealthFinding {
  if (!f.repository || may(f.repository)) return f;
  return { severity: f.severity, code: f.code, message: hiddenMessage(f.code), fix: HIDDEN_FIX };
}

function change(c: HealthChange, may: MaySee): HealthChange {
  return may(c.repository) ? c : { kind: c.kind, repository: HIDDEN_REPOSITORY, at: c.at };
}

function notice(n: KeyNotice, may: MaySee): KeyNotice {
  if (may(n.repository)) return n;
  return {
    kind: n.kind,
    repository: HIDDEN_REPOSITORY,
    keyId: 0,
    label: '',
    fingerprint: '',
    ageDays: n.ageDays,
    lastUsed: n.lastUsed,
    connection: n.connection,
    // Removing it would need its name: the admins who see it remove it.
    removable: false,
    seenAt: n.seenAt,
  };
}

function entry(e: HealthEntry, may: MaySee): HealthEntry {
  return { ...e, findings: e.findings.map((f) => finding(f, may)), changes: e.changes.map((c) => change(c, may)) };
}

/** The view with every entry about a repository `may` refuses rebuilt without the repository. */
export function maskHealth(view: HealthView, may: MaySee): HealthView {
  return {
    ...view,
    latest: view.latest ? entry(view.latest, may) : null,
    needsAdmin: view.needsAdmin.map((n) => (may(n.repository) ? n : { repository: HIDDEN_REPOSITORY, reason: HIDDEN_NEEDS_ADMIN_REASON, ...(n.newSubmodule ? { newSubmodule: true } : {}) })),
    recentChanges: view.recentChanges.map((c) => change(c, may)),
    keyNotices: view.keyNotices.map((n) => notice(n, may)),
  };
}

/**
 * Whether the viewer may see `repository` (`workspace/slug`): any permission Bitbucket reports for them
 * there, asked as them. Anything but a clear yes is no: hiding too much costs a viewer a name, showing
 * too much gives one away.
 */
async function viewerSees(asUser: BitbucketTransport, repository: string): Promise<boolean> {
  const slash = repository.indexOf('/');
  if (slash <= 0) return false;
  try {
    const permission = await callerRepositoryPermission(asUser, repository.slice(0, slash), repository.slice(slash + 1));
    return permission === 'read' || permission === 'write' || permission === 'admin';
  } catch {
    return false;
  }
}

/**
 * `view` as the caller may see it on the page of `pageRepository` (whose admin they are). Asks nothing
 * when the view names no other repository; then whether the caller is a workspace admin; then, for at
 * most MAX_VISIBILITY_ASKS of the repositories named, whether the caller may see each.
 */
export async function healthForViewer(platform: ForgePlatform, context: TrustedContext, pageRepository: string, view: HealthView): Promise<HealthView> {
  const own = pageRepository.toLowerCase();
  const others = namedRepositories(view).filter((r) => r !== own);
  if (!others.length) return view;
  const asUser = platform.bitbucketAsUser(context);
  const membership = await getWorkspaceMembership(asUser, context.workspaceId).catch(() => undefined);
  if (membership?.permission === 'owner') return view;
  const asked = others.slice(0, MAX_VISIBILITY_ASKS);
  const answers = await mapBounded(asked, CONCURRENCY, (r) => viewerSees(asUser, r));
  const visible = new Set([own, ...asked.filter((_, i) => answers[i])]);
  return maskHealth(view, (r) => visible.has(r.toLowerCase()));
}
