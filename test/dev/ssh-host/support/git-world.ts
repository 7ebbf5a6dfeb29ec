/**
 * A throwaway world for the SSH host and Valohai emulator tests: bare repositories made with the git
 * CLI in a temp dir, an in-memory `GitRepoDirectory` over them whose access keys a test edits, and
 * ed25519 key pairs from ssh-keygen.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessKeyRecord, GitRepoDirectory, RepoRef } from '../../../../dev/contracts';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never rejects, so a test can assert on a failure's text. */
export function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd: options.cwd, env: options.env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    // A command that exits before reading its input must not fail the test with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

export function gitEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/nonexistent',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Test Author',
    GIT_AUTHOR_EMAIL: 'author@example.test',
    GIT_COMMITTER_NAME: 'Test Author',
    GIT_COMMITTER_EMAIL: 'author@example.test',
    LC_ALL: 'C',
    ...extra,
  };
}

export async function git(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  const res = await run('git', args, { ...options, env: gitEnv(options.env) });
  if (res.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${res.stderr}`);
  return res.stdout.trim();
}

export interface KeyPair {
  privatePath: string;
  privateText: string;
  /** `type base64`, as Bitbucket stores access keys. */
  publicText: string;
}

export interface UsedKey {
  workspace: string;
  slug: string;
  keyId: number;
  when: Date;
}

/** The repository directory the tests hand to the SSH host; access keys change at any time. */
export class MemoryDirectory implements GitRepoDirectory {
  readonly used: UsedKey[] = [];
  private readonly repos = new Map<string, { ref: RepoRef; path: string }>();
  private readonly keys = new Map<string, AccessKeyRecord[]>();
  private nextKeyId = 1;

  private static id(workspace: string, slug: string): string {
    return `${workspace}/${slug}`.toLowerCase();
  }

  addRepo(workspace: string, slug: string, path: string): void {
    this.repos.set(MemoryDirectory.id(workspace, slug), { ref: { workspace, slug }, path });
  }

  addKey(workspace: string, slug: string, keyText: string): number {
    const id = this.nextKeyId++;
    const list = this.keys.get(MemoryDirectory.id(workspace, slug)) ?? [];
    list.push({ id, key: keyText });
    this.keys.set(MemoryDirectory.id(workspace, slug), list);
    return id;
  }

  removeKey(workspace: string, slug: string, id: number): void {
    const list = this.keys.get(MemoryDirectory.id(workspace, slug)) ?? [];
    this.keys.set(
      MemoryDirectory.id(workspace, slug),
      list.filter((k) => k.id !== id),
    );
  }

  repositories(): RepoRef[] {
    return [...this.repos.values()].map((r) => r.ref);
  }

  bareRepoPath(workspace: string, slug: string): string | undefined {
    return this.repos.get(MemoryDirectory.id(workspace, slug))?.path;
  }

  accessKeys(workspace: string, slug: string): AccessKeyRecord[] {
    return [...(this.keys.get(MemoryDirectory.id(workspace, slug)) ?? [])];
  }

  markKeyUsed(workspace: string, slug: string, keyId: number, when: Date): void {
    this.used.push({ workspace, slug, keyId, when });
  }
}

export interface GitWorld {
  root: string;
  directory: MemoryDirectory;
  /** Creates an empty bare repository `workspace/slug` and lists it in the directory. */
  createRepo(workspace: string, slug: string): Promise<string>;
  /**
   * Commits `files` (path → text) and `gitlinks` (path → commit id) on top of `branch` of a bare
   * repository and returns the new commit id. The repository's HEAD follows the first branch written.
   */
  commit(
    workspace: string,
    slug: string,
    input: { files?: Record<string, string>; gitlinks?: Record<string, string>; message?: string; branch?: string },
  ): Promise<string>;
  keyPair(name: string): Promise<KeyPair>;
  cleanup(): Promise<void>;
}

export async function createGitWorld(): Promise<GitWorld> {
  const root = await mkdtemp(join(tmpdir(), 'vb-git-world-'));
  const directory = new MemoryDirectory();
  const keyDir = join(root, 'keys');
  await mkdir(keyDir, { mode: 0o700 });
  let tick = 0;

  const world: GitWorld = {
    root,
    directory,
    async createRepo(workspace, slug) {
      const path = join(root, 'repos', workspace, `${slug}.git`);
      await mkdir(path, { recursive: true });
      await git(['init', '--quiet', '--bare', path]);
      directory.addRepo(workspace, slug, path);
      return path;
    },
    async commit(workspace, slug, input) {
      const path = directory.bareRepoPath(workspace, slug);
      if (!path) throw new Error(`no repository ${workspace}/${slug} in this test world`);
      const branch = input.branch ?? 'main';
      const index = join(root, `index-${tick}`);
      // Distinct, increasing commit times keep commit ordering stable without sleeping.
      const date = `${1_700_000_000 + tick * 60} +0000`;
      tick += 1;
      const env = { GIT_INDEX_FILE: index, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
      const parent = await git(['--git-dir', path, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).catch(() => '');
      if (parent) await git(['--git-dir', path, 'read-tree', parent], { env });
      for (const [file, text] of Object.entries(input.files ?? {})) {
        const blob = await git(['--git-dir', path, 'hash-object', '-w', '--stdin'], { input: text });
        await git(['--git-dir', path, 'update-index', '--add', '--cacheinfo', `100644,${blob},${file}`], { env });
      }
      for (const [file, sha] of Object.entries(input.gitlinks ?? {})) {
        await git(['--git-dir', path, 'update-index', '--add', '--cacheinfo', `160000,${sha},${file}`], { env });
      }
      const tree = await git(['--git-dir', path, 'write-tree'], { env });
      const args = ['--git-dir', path, 'commit-tree', tree, '-m', input.message ?? `commit ${tick}`];
      if (parent) args.push('-p', parent);
      const sha = await git(args, { env });
      await git(['--git-dir', path, 'update-ref', `refs/heads/${branch}`, sha]);
      const head = await git(['--git-dir', path, 'symbolic-ref', 'HEAD']);
      const headExists = await git(['--git-dir', path, 'rev-parse', '--verify', '--quiet', head]).catch(() => '');
      if (!headExists) await git(['--git-dir', path, 'symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
      await rm(index, { force: true });
      return sha;
    },
    async keyPair(name) {
      const privatePath = join(keyDir, name);
      const res = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', privatePath]);
      if (res.code !== 0) throw new Error(`ssh-keygen failed: ${res.stderr}`);
      const publicLine = await readFile(`${privatePath}.pub`, 'utf8');
      const [type, base64] = publicLine.trim().split(/\s+/);
      return { privatePath, privateText: await readFile(privatePath, 'utf8'), publicText: `${type} ${base64}` };
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
  return world;
}

/** The GIT_SSH_COMMAND a careful client uses: only this key, and the host key checked strictly. */
export async function strictSshCommand(root: string, opts: { port: number; knownHostsLine: string; keyPath: string; name?: string }): Promise<string> {
  const knownHosts = join(root, `known_hosts-${opts.name ?? opts.port}`);
  await writeFile(knownHosts, `${opts.knownHostsLine}\n`);
  return [
    'ssh',
    '-F /dev/null',
    '-o BatchMode=yes',
    '-o IdentityAgent=none',
    '-o IdentitiesOnly=yes',
    '-o StrictHostKeyChecking=yes',
    `-o UserKnownHostsFile=${knownHosts}`,
    '-o GlobalKnownHostsFile=/dev/null',
    `-i ${opts.keyPath}`,
    `-p ${opts.port}`,
  ].join(' ');
}
