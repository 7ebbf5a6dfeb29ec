/**
 * Reads what the API serves straight from the bare repositories with the git CLI: branch tips, commit
 * details, tree entries and file bytes. Revisions are only ever exact branch names or hex commit ids,
 * never git's revision syntax, so a path parameter cannot reach `HEAD~3` or an option.
 */
import { runGit, tryGit } from '../seed/git-cli';

export interface CommitInfo {
  hash: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  /** ISO 8601 with offset, as git prints `%aI`. */
  date: string;
  message: string;
}

export type EntryKind = 'blob' | 'tree' | 'commit';

export interface TreeEntry {
  mode: string;
  kind: EntryKind;
  oid: string;
  /** Bytes, for blobs. */
  size?: number;
  /** Full path from the repository root. */
  path: string;
}

const HEX = /^[0-9a-f]{7,40}$/i;

export async function branchTip(gitDir: string, branch: string): Promise<string | undefined> {
  if (branch === '' || branch.startsWith('-')) return undefined;
  const out = await tryGit(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { gitDir });
  return out?.toString('utf8').trim() || undefined;
}

/** A branch name or a (possibly abbreviated) commit id, resolved to a full commit id. */
export async function resolveCommit(gitDir: string, rev: string): Promise<string | undefined> {
  const tip = await branchTip(gitDir, rev);
  if (tip) return tip;
  if (!HEX.test(rev)) return undefined;
  const out = await tryGit(['rev-parse', '--verify', '--quiet', `${rev.toLowerCase()}^{commit}`], { gitDir });
  return out?.toString('utf8').trim() || undefined;
}

export async function commitInfo(gitDir: string, sha: string): Promise<CommitInfo> {
  const out = await runGit(['show', '-s', '--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%B', sha], { gitDir });
  const [hash, parents, authorName, authorEmail, date, message] = out.toString('utf8').split('\0') as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return {
    hash,
    parents: parents.split(' ').filter(Boolean),
    authorName,
    authorEmail,
    date,
    message: message.replace(/\n+$/, '\n'),
  };
}

function parseLsTree(out: Buffer): TreeEntry[] {
  return out
    .toString('utf8')
    .split('\0')
    .filter(Boolean)
    .map((record) => {
      const tab = record.indexOf('\t');
      const [mode, kind, oid, size] = record.slice(0, tab).split(/\s+/) as [string, EntryKind, string, string];
      const entry: TreeEntry = { mode, kind, oid, path: record.slice(tab + 1) };
      if (kind === 'blob') entry.size = Number(size);
      return entry;
    });
}

/** The entry at `path` in the commit's tree, or undefined when there is none. */
export async function treeEntry(gitDir: string, sha: string, path: string): Promise<TreeEntry | undefined> {
  const clean = path.replace(/\/+$/, '');
  if (clean === '') return { mode: '040000', kind: 'tree', oid: `${sha}^{tree}`, path: '' };
  const out = await runGit(['ls-tree', '-l', '-z', sha, '--', clean], { gitDir });
  return parseLsTree(out).find((e) => e.path === clean);
}

/** The entries directly inside directory `path` ('' for the root). */
export async function listDirectory(gitDir: string, sha: string, path: string): Promise<TreeEntry[]> {
  const clean = path.replace(/\/+$/, '');
  const args = clean === '' ? ['ls-tree', '-l', '-z', sha] : ['ls-tree', '-l', '-z', sha, '--', `${clean}/`];
  return parseLsTree(await runGit(args, { gitDir }));
}

export async function readBlob(gitDir: string, oid: string): Promise<Buffer> {
  return runGit(['cat-file', 'blob', oid], { gitDir });
}
