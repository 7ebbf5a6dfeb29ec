/**
 * Writes commits straight into a bare repository with `git fast-import`: one process per batch, no
 * working tree, gitlinks (mode 160000) written as plain entries, fixed identity and dates.
 */
import { rm, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SEED_IDENTITY, runGit } from './git-cli';

export type TreeChange =
  | { kind: 'file'; path: string; content: string }
  | { kind: 'gitlink'; path: string; sha: string }
  | { kind: 'delete'; path: string };

export interface CommitPlan {
  /** Branch name without `refs/heads/`. */
  branch: string;
  /** Parent: a full commit id, or the index (in this batch) of an earlier commit. Absent for a root commit. */
  parent?: string | { index: number };
  message: string;
  date: Date;
  changes: TreeChange[];
}

export class InvalidRepoPathError extends Error {
  constructor(readonly path: string, reason: string) {
    super(`Invalid file path "${path}" in a seeded commit: ${reason}. Use a relative path with "/" separators.`);
    this.name = 'InvalidRepoPathError';
  }
}

const SHA = /^[0-9a-f]{40}$/;

export function checkRepoPath(path: string): void {
  if (path === '') throw new InvalidRepoPathError(path, 'it is empty');
  if (path.startsWith('/') || path.endsWith('/')) throw new InvalidRepoPathError(path, 'it starts or ends with "/"');
  if (/[\n\r\0]/.test(path) || path.startsWith('"')) throw new InvalidRepoPathError(path, 'it holds a newline, NUL or a leading quote');
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw new InvalidRepoPathError(path, `it has a "${seg}" segment`);
    if (seg === '.git') throw new InvalidRepoPathError(path, 'it has a ".git" segment');
  }
}

function stamp(date: Date): string {
  return `${Math.floor(date.getTime() / 1000)} +0000`;
}

function data(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  return [Buffer.from(`data ${bytes.length}\n`), bytes, Buffer.from('\n')];
}

export function fastImportStream(commits: CommitPlan[]): Buffer {
  const parts: Buffer[] = [];
  const who = `${SEED_IDENTITY.name} <${SEED_IDENTITY.email}>`;
  commits.forEach((c, i) => {
    parts.push(Buffer.from(`commit refs/heads/${c.branch}\nmark :${i + 1}\n`));
    parts.push(Buffer.from(`author ${who} ${stamp(c.date)}\ncommitter ${who} ${stamp(c.date)}\n`));
    parts.push(...data(c.message.endsWith('\n') ? c.message : `${c.message}\n`));
    if (typeof c.parent === 'string') {
      if (!SHA.test(c.parent)) throw new Error(`Parent "${c.parent}" is not a full commit id`);
      parts.push(Buffer.from(`from ${c.parent}\n`));
    } else if (c.parent) {
      if (c.parent.index >= i) throw new Error(`Commit ${i} names a later commit (${c.parent.index}) as its parent`);
      parts.push(Buffer.from(`from :${c.parent.index + 1}\n`));
    }
    for (const ch of c.changes) {
      checkRepoPath(ch.path);
      if (ch.kind === 'delete') parts.push(Buffer.from(`D ${ch.path}\n`));
      else if (ch.kind === 'gitlink') {
        if (!SHA.test(ch.sha)) throw new Error(`Gitlink "${ch.path}" needs a full commit id, got "${ch.sha}"`);
        parts.push(Buffer.from(`M 160000 ${ch.sha} ${ch.path}\n`));
      } else {
        parts.push(Buffer.from(`M 100644 inline ${ch.path}\n`), ...data(ch.content));
      }
    }
    parts.push(Buffer.from('\n'));
  });
  return Buffer.concat(parts);
}

/** Imports `commits` into the bare repository and returns their commit ids, in order. */
export async function writeCommits(gitDir: string, commits: CommitPlan[]): Promise<string[]> {
  if (commits.length === 0) return [];
  const marksFile = join(gitDir, `fast-import-marks-${process.pid}-${Date.now()}`);
  try {
    await runGit(['fast-import', '--quiet', `--export-marks=${marksFile}`], {
      gitDir,
      input: fastImportStream(commits),
    });
    const marks = new Map<number, string>();
    for (const line of (await readFile(marksFile, 'utf8')).split('\n')) {
      const m = /^:(\d+) ([0-9a-f]{40})$/.exec(line);
      if (m) marks.set(Number(m[1]), m[2] as string);
    }
    return commits.map((_, i) => {
      const sha = marks.get(i + 1);
      if (!sha) throw new Error(`git fast-import reported no commit for entry ${i + 1}`);
      return sha;
    });
  } finally {
    await rm(marksFile, { force: true });
  }
}

/** Creates an empty bare repository whose HEAD names `mainBranch`. */
export async function initBareRepo(gitDir: string, mainBranch: string): Promise<void> {
  await runGit(['init', '--quiet', '--bare', `--initial-branch=${mainBranch}`, gitDir]);
  // Submodule fetches ask for the exact commit a gitlink names, which may not be a branch tip.
  await runGit(['config', 'uploadpack.allowReachableSHA1InWant', 'true'], { gitDir });
}
