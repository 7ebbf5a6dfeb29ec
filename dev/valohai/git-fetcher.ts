/**
 * What Valohai's "Fetch repository" does, with real git: a persistent mirror per project, fetched over
 * SSH with the project's private key, then every submodule of the fetch reference, recursively, cloned
 * afresh over SSH with that same key, so that every submodule repository is reached with it on every
 * fetch. A clone that fails, a gitlink without a URL or a commit a submodule repository lacks fails
 * the fetch with the words `git submodule update --init --recursive` uses.
 *
 * The stand-in does what that command does without running its shell script (which starts some twenty
 * processes per call): it reads `.gitmodules` and the gitlinks of the commit with plain git, resolves
 * relative URLs by git's rules against the URL the repository came from, and runs one plain
 * `git clone` per submodule repository, one level at a time and the clones of a level side by side.
 * Because every URL is known before git uses it, an `https://` URL that the `httpsRepository` lookup
 * knows is served anonymously from its local bare repository when public, and fails as git's
 * credential prompt does when private, which is what real Valohai meets on bitbucket.org. Other https
 * URLs are refused, as are local paths.
 *
 * The key is written to a 0600 file in a private temp dir for the duration of the git calls and
 * deleted right after; failure texts are git's own, with local paths taken out.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveSubmoduleUrl } from '../../src/git/index';
import type { SshGitEndpoint } from '../contracts';
import { sshClientFiles } from './ssh-client-config';

export interface FetchInput {
  projectId: string;
  url: string;
  /** Branch, tag or commit; empty means the remote's default branch. */
  ref: string;
  /** The unencrypted private key, or undefined when the project has none. */
  privateKey: string | undefined;
}

export interface BranchHead {
  identifier: string;
  /** Branch names pointing at this commit, sorted. */
  refNames: string[];
  commitTime: Date;
}

export interface FetchOutcome {
  /** Every branch head of the fetched repository (empty when the fetch failed). */
  heads: BranchHead[];
  /** The branch the fetch reference names, when it is one. */
  fetchBranch: string | undefined;
  errors: string[];
}

/** The repository behind an `https://` URL, as anonymous https sees it. */
export interface HttpsRepository {
  /** Absolute path of the bare git repository. */
  path: string;
  /** Private repositories ask for credentials, which Valohai does not have. */
  isPrivate: boolean;
}

/** Maps an `https://` repository URL to its repository, or undefined for an unknown host or repository. */
export type HttpsRepositoryLookup = (url: string) => HttpsRepository | undefined;

export interface GitFetcherOptions {
  /** Where mirrors and temp dirs live; the emulator owns it. */
  root: string;
  ssh: SshGitEndpoint;
  /** Per git call (default 120 000). */
  timeoutMs?: number;
  /** Serves public `https://` repositories; without it every https URL is refused. */
  httpsRepository?: HttpsRepositoryLookup;
}

interface GitResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const HTTPS_HINT =
  'Only SSH URLs (git@bitbucket.org:workspace/repo.git) are fetched with the project\'s SSH key; a private repository behind an https:// URL cannot be fetched with it.';

const NAME = /^[A-Za-z0-9._-]+$/;

/**
 * Whether the URL's user and host are plain names. They end up in ssh's command line and its
 * ProxyCommand, so anything else (quotes, `$`, a leading `-`) is refused before git runs.
 */
function plausibleGitUrl(url: string): boolean {
  if (url.startsWith('-') || /\s/.test(url)) return false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    if (scheme !== 'ssh' && scheme !== 'git+ssh') return true; // git refuses these transports itself
    return NAME.test(parsed.hostname) && (parsed.username === '' || NAME.test(parsed.username));
  }
  const scp = /^(?:([^@/:]+)@)?([^@/:]+):/.exec(url);
  if (!scp) return false;
  return NAME.test(scp[2] ?? '') && (scp[1] === undefined || NAME.test(scp[1]));
}

/** How git reaches one URL: over SSH (or refused) as configured, from a local public repository, or not at all. */
type Route = { kind: 'plain' } | { kind: 'public'; path: string } | { kind: 'private' };

interface Submodule {
  path: string;
  /** As `git submodule init` resolves it: relative URLs are absolute here. */
  url: string;
  /** The commit its gitlink names. */
  sha: string;
}

/** What git says when an https remote answers 401 and it may not prompt (GIT_TERMINAL_PROMPT=0). */
function credentialFailure(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `fatal: unable to access '${url}': URL rejected: Malformed input to a URL function`;
  }
  if (parsed.password) {
    parsed.password = '';
    return `remote: Invalid credentials\nfatal: Authentication failed for '${parsed.href}'`;
  }
  if (parsed.username) return `fatal: could not read Password for '${parsed.protocol}//${parsed.username}@${parsed.host}': terminal prompts disabled`;
  return `fatal: could not read Username for '${parsed.protocol}//${parsed.host}': terminal prompts disabled`;
}

/** A URL fit to show: any password in it taken out. */
function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '';
    return parsed.href;
  } catch {
    return url;
  }
}

/** `git submodule update`'s words for a clone that failed twice. */
function submoduleCloneFailure(url: string, absolutePath: string, displayPath: string, why: string): string {
  const attempt = `${why}\nfatal: clone of '${shownUrl(url)}' into submodule path '${absolutePath}' failed`;
  return `${attempt}\nFailed to clone '${displayPath}'. Retry scheduled\n${attempt}\nFailed to clone '${displayPath}' a second time, aborting`;
}

/** Extra environment that makes git fetch these https URLs from their local repositories. */
function servedEnv(network: Record<string, string>, served: Map<string, string>): Record<string, string> {
  // GIT_CONFIG_COUNT (unlike -c) is passed on to the git processes that submodule commands start.
  const entries: [string, string][] = [...served].map(([url, path]) => [`url.${pathToFileURL(path).href}.insteadOf`, url]);
  entries.push(['protocol.file.allow', 'always']);
  const env: Record<string, string> = { ...network, GIT_ALLOW_PROTOCOL: `${network.GIT_ALLOW_PROTOCOL ?? 'ssh'}:file`, GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

class FetchFailure extends Error {
  constructor(readonly detail: string) {
    super(detail);
    this.name = 'FetchFailure';
  }
}

export class GitFetcher {
  private readonly queues = new Map<string, Promise<unknown>>();
  /** `.gitmodules` files already read, by blob id (see gitmodulesEntries). */
  private readonly parsedGitmodules = new Map<string, Promise<GitResult>>();
  private readonly timeoutMs: number;

  constructor(private readonly options: GitFetcherOptions) {
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  /** One fetch at a time per project, as two fetches into one mirror would trip over each other. */
  fetch(input: FetchInput): Promise<FetchOutcome> {
    const previous = this.queues.get(input.projectId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.fetchNow(input));
    this.queues.set(input.projectId, next);
    return next;
  }

  private async fetchNow(input: FetchInput): Promise<FetchOutcome> {
    const alias = this.options.ssh.aliasHost;
    if (!input.privateKey) {
      return {
        heads: [],
        fetchBranch: undefined,
        errors: [`Could not fetch ${input.url}: no SSH private key is set for this repository, so ${alias} refused it: git@${alias}: Permission denied (publickey).`],
      };
    }
    if (!plausibleGitUrl(input.url)) {
      return { heads: [], fetchBranch: undefined, errors: [`Could not fetch ${input.url}: this is not a git URL. Use the SSH form git@${alias}:workspace/repo.git.`] };
    }
    const top = this.route(input.url);
    if (top.kind === 'private') {
      return { heads: [], fetchBranch: undefined, errors: [`Could not fetch ${shownUrl(input.url)}: ${credentialFailure(input.url)}`] };
    }
    await mkdir(join(this.options.root, 'tmp'), { recursive: true });
    const session = await mkdtemp(join(this.options.root, 'tmp', 'fetch-'));
    await chmod(session, 0o700);
    /** Local repositories served for https URLs during this fetch: their paths never reach a message. */
    const served = new Map<string, string>();
    const scrub = (text: string) => {
      let plain = text.split(`${join(session, 'work')}/`).join('').split(session).join('');
      for (const [url, path] of served) plain = plain.split(pathToFileURL(path).href).join(url).split(path).join(url);
      plain = plain.split(this.options.root).join('').trim();
      return /transport '(https?|git|file)' not allowed/.test(plain) ? `${plain}\n${HTTPS_HINT}` : plain;
    };
    try {
      const identityFile = join(session, 'id');
      const knownHostsFile = join(session, 'known_hosts');
      const configFile = join(session, 'ssh_config');
      const files = sshClientFiles(this.options.ssh, { identityFile, knownHostsFile });
      await writeFile(identityFile, input.privateKey, { mode: 0o600 });
      await writeFile(knownHostsFile, files.knownHosts);
      await writeFile(configFile, files.config);
      const network = { GIT_SSH_COMMAND: `ssh -F '${configFile}'`, GIT_ALLOW_PROTOCOL: 'ssh' };
      if (top.kind === 'public') served.set(input.url, top.path);

      const mirror = join(this.options.root, 'projects', input.projectId, 'mirror.git');
      try {
        await this.updateMirror(mirror, input.url, top.kind === 'public' ? servedEnv(network, served) : network);
      } catch (err) {
        if (err instanceof FetchFailure) return { heads: [], fetchBranch: undefined, errors: [`Could not fetch ${input.url}: ${scrub(err.detail)}`] };
        throw err;
      }

      const heads = await this.branchHeads(mirror);
      const target = await this.resolveRef(mirror, input.ref, heads);
      if (!target) {
        const why = input.ref ? `fatal: couldn't find remote ref ${input.ref}` : 'the repository has no commits on its default branch.';
        return { heads: [], fetchBranch: undefined, errors: [`Could not fetch ${input.url}: ${why}`] };
      }
      const failure = await this.fetchSubmodules(mirror, input.url, target.sha, session, '', network, served);
      if (failure) {
        const at = target.name ? `${target.name} (${target.sha.slice(0, 12)})` : target.sha.slice(0, 12);
        return { heads: [], fetchBranch: undefined, errors: [`Could not fetch the submodules of ${input.url} at ${at}: ${scrub(failure)}`] };
      }
      return { heads, fetchBranch: target.branch, errors: [] };
    } finally {
      await rm(session, { recursive: true, force: true });
    }
  }

  private async updateMirror(mirror: string, url: string, network: Record<string, string>): Promise<void> {
    if (existsSync(join(mirror, 'HEAD'))) {
      // Another repository now: start over, so no branch of the old one is taken for the new one's.
      const current = await this.git(['--git-dir', mirror, 'config', '--get', 'remote.origin.url']);
      if (current.stdout.trim() !== url) await rm(mirror, { recursive: true, force: true });
    }
    if (!existsSync(join(mirror, 'HEAD'))) {
      await mkdir(join(mirror, '..'), { recursive: true });
      const res = await this.git(['clone', '--mirror', '--quiet', '--', url, mirror], network);
      if (res.code !== 0) {
        await rm(mirror, { recursive: true, force: true });
        throw new FetchFailure(res.stderr);
      }
      return;
    }
    const res = await this.git(['--git-dir', mirror, 'fetch', '--prune', '--quiet', 'origin'], network);
    if (res.code !== 0) throw new FetchFailure(res.stderr);
  }

  private async branchHeads(mirror: string): Promise<BranchHead[]> {
    const out = await this.mustGit(['--git-dir', mirror, 'for-each-ref', '--format=%(objectname) %(committerdate:unix) %(refname)', 'refs/heads']);
    const bySha = new Map<string, BranchHead>();
    for (const line of out.split('\n')) {
      const m = /^([0-9a-f]{40,64}) (\d+) refs\/heads\/(.+)$/.exec(line.trim());
      if (!m) continue;
      const [, sha, seconds, branch] = m as unknown as [string, string, string, string];
      const head = bySha.get(sha) ?? { identifier: sha, refNames: [], commitTime: new Date(Number(seconds) * 1000) };
      head.refNames.push(branch);
      bySha.set(sha, head);
    }
    for (const head of bySha.values()) head.refNames.sort();
    return [...bySha.values()];
  }

  /**
   * The commit a fetch reference names, as `git fetch origin <ref>` would find it. A branch is looked up
   * in the heads just read (the same answer as asking git once more, without starting it).
   */
  private async resolveRef(mirror: string, ref: string, heads: readonly BranchHead[]): Promise<{ sha: string; branch?: string; name?: string } | undefined> {
    const verify = async (name: string) => {
      const res = await this.git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', `${name}^{commit}`]);
      return res.code === 0 ? res.stdout.trim() : undefined;
    };
    if (!ref) {
      const head = await this.git(['--git-dir', mirror, 'symbolic-ref', '--quiet', 'HEAD']);
      const name = head.stdout.trim();
      const sha = head.code === 0 ? await verify(name) : undefined;
      return sha ? { sha, branch: name.replace(/^refs\/heads\//, ''), name: name.replace(/^refs\/heads\//, '') } : undefined;
    }
    if (!/^[\w./@+-]+$/.test(ref) || ref.startsWith('-')) return undefined;
    const known = heads.find((h) => h.refNames.includes(ref));
    if (known) return { sha: known.identifier, branch: ref, name: ref };
    const branch = await verify(`refs/heads/${ref}`);
    if (branch) return { sha: branch, branch: ref, name: ref };
    const tag = await verify(`refs/tags/${ref}`);
    if (tag) return { sha: tag, name: ref };
    if (/^[0-9a-f]{40}$/.test(ref)) {
      const sha = await verify(ref);
      if (sha) return { sha };
    }
    return undefined;
  }

  /**
   * Undefined when every submodule repository at every depth was cloned over its route and holds the
   * commit its gitlink names, else git's text. `gitDir` holds `sha`; `url` is where it came from, which
   * relative submodule URLs resolve against. The clones of one level run side by side.
   */
  private async fetchSubmodules(
    gitDir: string,
    url: string,
    sha: string,
    session: string,
    displayPrefix: string,
    network: Record<string, string>,
    served: Map<string, string>,
  ): Promise<string | undefined> {
    const listed = await this.submodulesAt(gitDir, url, sha, displayPrefix);
    if (typeof listed === 'string') return listed;
    const outcomes = await Promise.all(
      listed.map(async (module): Promise<{ module: Submodule; clone?: string; failure?: string }> => {
        const display = `${displayPrefix}${module.path}`;
        // Named like the submodule's path in a work tree, so that scrubbed messages read as git's.
        const clone = join(session, 'work', display);
        const route = this.route(module.url);
        if (route.kind === 'private') return { module, failure: submoduleCloneFailure(module.url, clone, display, credentialFailure(module.url)) };
        let env = network;
        if (route.kind === 'public') {
          served.set(module.url, route.path);
          // Local file access only for this clone, so a .gitmodules URL naming a local path stays refused.
          env = servedEnv(network, new Map([[module.url, route.path]]));
        }
        await mkdir(join(clone, '..'), { recursive: true });
        const res = await this.git(['clone', '--bare', '--quiet', '--', module.url, clone], env);
        if (res.code !== 0) return { module, failure: submoduleCloneFailure(module.url, clone, display, res.stderr.trimEnd()) };
        return { module, clone };
      }),
    );
    const failures = outcomes.flatMap((o) => (o.failure ? [o.failure] : []));
    if (failures.length > 0) return failures.join('\n');
    for (const { module, clone } of outcomes) {
      const nested = await this.fetchSubmodules(clone as string, module.url, module.sha, session, `${displayPrefix}${module.path}/`, network, served);
      if (nested) return `${nested.trimEnd()}\nfatal: Failed to recurse into submodule path '${displayPrefix}${module.path}'`;
    }
    return undefined;
  }

  /**
   * The submodules `git submodule update --init` would clone for commit `sha` of `gitDir`: each gitlink
   * with its `.gitmodules` URL (relative ones resolved against `url` by git's rules), or git's error when
   * a gitlink has no URL or the commit is not there. No `.gitmodules`: none.
   */
  private async submodulesAt(gitDir: string, url: string, sha: string, displayPrefix: string): Promise<Submodule[] | string> {
    const tree = await this.git(['--git-dir', gitDir, 'ls-tree', '-r', '-z', '--full-tree', sha]);
    if (tree.code !== 0) {
      const where = displayPrefix.replace(/\/$/, '');
      return `fatal: Fetched in submodule path '${where}', but it did not contain ${sha}. Direct fetching of that commit failed.`;
    }
    const gitlinks: { path: string; sha: string }[] = [];
    let gitmodules: string | undefined;
    for (const entry of tree.stdout.split('\0')) {
      const m = /^(\d+) (\w+) ([0-9a-f]+)\t([\s\S]+)$/.exec(entry);
      if (!m) continue;
      const [, mode, , object, path] = m as unknown as [string, string, string, string, string];
      if (mode === '160000') gitlinks.push({ path, sha: object });
      else if (path === '.gitmodules') gitmodules = object;
    }
    if (gitmodules === undefined) return [];
    const config = await this.gitmodulesEntries(gitDir, sha, gitmodules);
    if (config.code !== 0 && config.code !== 1) return config.stderr.trimEnd() || `git config failed on .gitmodules (exit ${String(config.code)})`;
    const byName = new Map<string, { path?: string; url?: string }>();
    for (const entry of config.stdout.split('\0')) {
      const m = /^submodule\.(.+)\.(url|path)\n([\s\S]*)$/.exec(entry);
      if (!m) continue;
      const [, name, key, value] = m as unknown as [string, string, 'url' | 'path', string];
      const record = byName.get(name) ?? {};
      record[key] = value;
      byName.set(name, record);
    }
    const modules: Submodule[] = [];
    for (const link of gitlinks) {
      const display = `${displayPrefix}${link.path}`;
      const written = [...byName.values()].find((r) => r.path === link.path)?.url;
      // git ignores a URL that could be taken for an option, and then has none.
      if (written === undefined || written === '' || written.startsWith('-')) return `fatal: No url found for submodule path '${display}' in .gitmodules`;
      let resolved: string;
      try {
        resolved = resolveSubmoduleUrl(url, written);
      } catch {
        return `fatal: cannot strip one component off url '${shownUrl(url)}'`;
      }
      modules.push({ path: link.path, url: resolved, sha: link.sha });
    }
    return modules;
  }

  /**
   * `git config --blob` over a `.gitmodules` file: its submodule paths and URLs as git reads them. The
   * answer depends only on the file's bytes, so it is kept by the blob's id (the same file is read
   * on every fetch of an unchanged repository).
   */
  private gitmodulesEntries(gitDir: string, sha: string, blob: string): Promise<GitResult> {
    const kept = this.parsedGitmodules.get(blob);
    if (kept) return kept;
    const read = this.git(['--git-dir', gitDir, 'config', '--blob', `${sha}:.gitmodules`, '-z', '--get-regexp', '^submodule\\..*\\.(path|url)$']);
    // Exit 1: a readable file without submodule entries. Anything else is not kept.
    void read.then((r) => {
      if (r.code === 0 || r.code === 1) {
        if (this.parsedGitmodules.size >= 10_000) this.parsedGitmodules.clear();
        this.parsedGitmodules.set(blob, read);
      }
    });
    return read;
  }

  /** Where an https URL leads when the lookup knows it; everything else goes to git as it is. */
  private route(url: string): Route {
    const lookup = this.options.httpsRepository;
    if (!lookup || !/^https:\/\//i.test(url)) return { kind: 'plain' };
    const repo = lookup(url);
    if (!repo) return { kind: 'plain' };
    return repo.isPrivate ? { kind: 'private' } : { kind: 'public', path: repo.path };
  }

  private async mustGit(args: string[]): Promise<string> {
    const res = await this.git(args);
    if (res.code !== 0) throw new Error(`git ${args[0] === '--git-dir' || args[0] === '-C' ? args[2] : args[0]} failed in the emulator's own storage: ${res.stderr.trim()}`);
    return res.stdout;
  }

  private git(args: string[], extraEnv: Record<string, string> = {}): Promise<GitResult> {
    return new Promise((resolve) => {
      const child = spawn('git', args, {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: this.options.root,
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_TERMINAL_PROMPT: '0',
          LC_ALL: 'C',
          ...extraEnv,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: this.timeoutMs,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('error', (err) => resolve({ code: null, stdout, stderr: stderr + err.message }));
      child.on('close', (code, signal) => resolve({ code, stdout, stderr: signal ? `${stderr}\ngit was stopped after ${this.timeoutMs} ms (${signal}).` : stderr }));
    });
  }
}
