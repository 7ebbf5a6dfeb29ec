/**
 * Reads what the API serves straight from the bare repositories with the git CLI: branch tips, commit
 * details, tree entries and file bytes. Revisions are only ever exact branch names or hex commit ids,
 * never git's revision syntax, so a path parameter cannot reach `HEAD~3` or an option.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
const FULL_ID = /^[0-9a-f]{40}$/;

/**
 * Answers already read, so that each API call does not start a git process per lookup (discovery
 * makes a dozen such calls per connect). What a full commit or object id names never changes, so those
 * answers are kept; a branch tip is kept only while the files that hold it (its loose ref and
 * `packed-refs`) are the very same files, so a commit written by any means is seen on the next call.
 */
const MAX_REMEMBERED = 20_000;
const remembered = new Map<string, { stamp: string; value: Promise<unknown> }>();

function rememberedRead<T>(key: string, stamp: string, read: () => Promise<T>): Promise<T> {
  const hit = remembered.get(key);
  if (hit && hit.stamp === stamp) return hit.value as Promise<T>;
  if (remembered.size >= MAX_REMEMBERED) remembered.clear();
  const value = read();
  remembered.set(key, { stamp, value });
  // A failed read is not an answer: the next call asks git again.
  value.catch(() => {
    if (remembered.get(key)?.value === value) remembered.delete(key);
  });
  return value;
}

async function fileStamp(path: string): Promise<string> {
  try {
    const st = await stat(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.mtimeNs}:${st.size}`;
  } catch {
    return 'none';
  }
}

/** Names whose loose ref file is plainly `refs/heads/<name>` inside the repository. */
function plainBranchName(branch: string): boolean {
  return !branch.split('/').some((part) => part === '' || part === '.' || part === '..') && !/[\\\0]/.test(branch);
}

/**
 * A plain branch's commit straight from the files that hold it, as git reads them: its loose ref, else
 * its line in `packed-refs`; undefined when neither names it. Null when a file holds something else (a
 * symbolic ref): then git is asked. Reading the files spares a git process per tip, which a workspace
 * listing of hundreds of repositories would otherwise start one by one.
 */
async function tipFromRefFiles(gitDir: string, branch: string): Promise<string | undefined | null> {
  const loose = await readFile(join(gitDir, 'refs/heads', branch), 'utf8').catch(() => undefined);
  if (loose !== undefined) return FULL_ID.test(loose.trim()) ? loose.trim() : null;
  const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8').catch(() => undefined);
  if (packed === undefined) return undefined;
  for (const line of packed.split('\n')) {
    if (!line.endsWith(` refs/heads/${branch}`)) continue;
    const sha = line.slice(0, line.indexOf(' '));
    return FULL_ID.test(sha) ? sha : null;
  }
  return undefined;
}

export async function branchTip(gitDir: string, branch: string): Promise<string | undefined> {
  if (branch === '' || branch.startsWith('-')) return undefined;
  const read = async () => {
    const out = await tryGit(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { gitDir });
    return out?.toString('utf8').trim() || undefined;
  };
  if (!plainBranchName(branch)) return read();
  const [loose, packed] = await Promise.all([fileStamp(join(gitDir, 'refs/heads', branch)), fileStamp(join(gitDir, 'packed-refs'))]);
  return rememberedRead(`tip\0${gitDir}\0${branch}`, `${loose}|${packed}`, async () => {
    const tip = await tipFromRefFiles(gitDir, branch);
    return tip === null ? read() : tip;
  });
}

function forget(kind: string, gitDir: string, id: string, rest: string): void {
  remembered.delete(`${kind}\0${gitDir}\0${id}\0${rest}`);
}

/** A read addressed by full ids only, kept; anything else is read afresh. */
function byId<T>(kind: string, gitDir: string, id: string, rest: string, read: () => Promise<T>): Promise<T> {
  if (!FULL_ID.test(id)) return read();
  return rememberedRead(`${kind}\0${gitDir}\0${id}\0${rest}`, '', read);
}

/** A branch name or a (possibly abbreviated) commit id, resolved to a full commit id. */
export async function resolveCommit(gitDir: string, rev: string): Promise<string | undefined> {
  const tip = await branchTip(gitDir, rev);
  if (tip) return tip;
  if (!HEX.test(rev)) return undefined;
  const read = async () => (await tryGit(['rev-parse', '--verify', '--quiet', `${rev.toLowerCase()}^{commit}`], { gitDir }))?.toString('utf8').trim() || undefined;
  // A commit that is there stays there; one that is not may be pushed later, so only finds are kept.
  const found = await byId('commit-id', gitDir, rev.toLowerCase(), '', read);
  if (found === undefined) forget('commit-id', gitDir, rev.toLowerCase(), '');
  return found;
}

export function commitInfo(gitDir: string, sha: string): Promise<CommitInfo> {
  return byId('commit', gitDir, sha, '', () => readCommitInfo(gitDir, sha));
}

async function readCommitInfo(gitDir: string, sha: string): Promise<CommitInfo> {
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
  const entries = await byId('entry', gitDir, sha, clean, async () => parseLsTree(await runGit(['ls-tree', '-l', '-z', sha, '--', clean], { gitDir })));
  return entries.find((e) => e.path === clean);
}

/** The entries directly inside directory `path` ('' for the root). */
export async function listDirectory(gitDir: string, sha: string, path: string): Promise<TreeEntry[]> {
  const clean = path.replace(/\/+$/, '');
  const args = clean === '' ? ['ls-tree', '-l', '-z', sha] : ['ls-tree', '-l', '-z', sha, '--', `${clean}/`];
  return byId('list', gitDir, sha, clean, async () => parseLsTree(await runGit(args, { gitDir })));
}

export function readBlob(gitDir: string, oid: string): Promise<Buffer> {
  return byId('blob', gitDir, oid, '', () => runGit(['cat-file', 'blob', oid], { gitDir }));
}
