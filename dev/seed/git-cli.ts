/**
 * Runs the `git` CLI with an environment that ignores the machine's own git configuration, so that
 * seeded repositories come out byte for byte the same everywhere.
 */
import { execFile } from 'node:child_process';

export class GitCommandError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || 'no output'}`);
    this.name = 'GitCommandError';
  }
}

export interface GitRunOptions {
  /** Bare repository to operate on (`--git-dir`). */
  gitDir?: string;
  cwd?: string;
  input?: Buffer | string;
  env?: Record<string, string>;
}

/** The fixed identity every seeded commit carries. */
export const SEED_IDENTITY = { name: 'Seed Author', email: 'seed@bitbucket.test' } as const;

export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/nonexistent',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    // Paths handed to ls-tree and friends are file names, never glob patterns.
    GIT_LITERAL_PATHSPECS: '1',
    LC_ALL: 'C',
    ...extra,
  };
}

export function runGit(args: string[], options: GitRunOptions = {}): Promise<Buffer> {
  const full = options.gitDir ? ['--git-dir', options.gitDir, ...args] : args;
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      full,
      { cwd: options.cwd, env: gitEnv(options.env), encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
          reject(new GitCommandError(args, code, stderr.toString('utf8')));
          return;
        }
        resolve(stdout);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Like runGit, but resolves undefined instead of rejecting when git exits with status 1 or 128. */
export async function tryGit(args: string[], options: GitRunOptions = {}): Promise<Buffer | undefined> {
  try {
    return await runGit(args, options);
  } catch (err) {
    if (err instanceof GitCommandError && (err.exitCode === 1 || err.exitCode === 128)) return undefined;
    throw err;
  }
}
