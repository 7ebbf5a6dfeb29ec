/**
 * What the CLI remembers between runs, in one JSON file (fingerprints, key ids, labels: never a private
 * key), and a lock directory so that two runs on one repository take turns.
 *
 * Whoever can write the state folder can forge what a run believes (a record that names a repository,
 * an audit that says every key was read), so the folder is trusted only when it is private: owned by
 * the user running the CLI and writable by nobody else, in a folder nobody else can swap it out of.
 * Files in it are never followed through a link, and are written through a fresh private file renamed
 * into place, so a link planted under a name the CLI would write cannot redirect the write.
 */
import { constants, lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { ConnectionRecord, ConnectionStore, Lock } from '../connect/index';
import { ConfigError } from './config';

export function stateDir(env: Record<string, string | undefined>): string {
  if (env.VALOHAI_BITBUCKET_STATE_DIR) return env.VALOHAI_BITBUCKET_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'valohai-bitbucket');
}

/** A path as a shell reads it back, so the fix in a message can be pasted. */
function shellPath(path: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

const mode = (s: Stats) => `0${(s.mode & 0o777).toString(8).padStart(3, '0')}`;
const GROUP_OR_OTHERS_WRITE = 0o022;
const STICKY = 0o1000;

/** Mode bits and owners mean nothing where there are no user ids (Windows): nothing to check there. */
function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

function statOrUndefined(path: string, follow: boolean): Stats | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A file in the state folder that is a link or not a regular file: the run stops rather than follow it. */
export class StateFileError extends ConfigError {
  constructor(path: string, what: string) {
    super(`${path} in the state folder is ${what}; the CLI does not follow links or read special files there. Remove it (rm -r ${shellPath(path)}) and run again.`);
    this.name = 'StateFileError';
  }
}

function describeNonFile(s: Stats): string {
  return s.isSymbolicLink() ? 'a symbolic link' : s.isDirectory() ? 'a folder, not a file' : 'not a regular file';
}

/** The state folder itself: ours alone. */
function checkFolder(dir: string, uid: number): void {
  const s = statSync(dir);
  if (!s.isDirectory()) throw new ConfigError(`The state folder ${dir} is not a folder. Set VALOHAI_BITBUCKET_STATE_DIR to a private folder of yours.`);
  if (s.uid !== uid) {
    throw new ConfigError(
      `The state folder ${dir} belongs to another user (uid ${s.uid}), who could forge the connections recorded there. ` +
        `Set VALOHAI_BITBUCKET_STATE_DIR to a private folder of your own.`,
    );
  }
  if (s.mode & GROUP_OR_OTHERS_WRITE) {
    throw new ConfigError(
      `The state folder ${dir} can be written by other users (mode ${mode(s)}), who could forge the connections recorded there. ` +
        `Make it private with chmod 700 ${shellPath(dir)}, or set VALOHAI_BITBUCKET_STATE_DIR to a private folder.`,
    );
  }
}

/**
 * The folder the state folder lives in: another user who may write it could rename the state folder
 * away and put their own in its place. A shared folder with the sticky bit (/tmp) forbids exactly that.
 */
function checkHolder(holder: string, dir: string, uid: number): void {
  const s = statSync(holder);
  if (s.uid !== uid && s.uid !== 0) {
    throw new ConfigError(
      `The state folder ${dir} is inside ${holder}, which belongs to another user (uid ${s.uid}) who could replace it. ` +
        `Set VALOHAI_BITBUCKET_STATE_DIR to a private folder in a folder of your own.`,
    );
  }
  if (s.mode & GROUP_OR_OTHERS_WRITE && !(s.mode & STICKY)) {
    throw new ConfigError(
      `The state folder ${dir} is inside ${holder}, which other users can write (mode ${mode(s)}), so they could replace it. ` +
        `Make that folder private with chmod go-w ${shellPath(holder)}, or set VALOHAI_BITBUCKET_STATE_DIR to a private folder.`,
    );
  }
}

/** What a run finds in the folder before it reads anything: files, never links; the lock folder, folders. */
function checkEntries(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const isState = name === 'connections.json' || /^(audit|token-hour)-.*\.json$/.test(name);
    if (isState) {
      const s = lstatSync(path);
      if (!s.isFile()) throw new StateFileError(path, describeNonFile(s));
    }
  }
  const locks = join(dir, 'locks');
  const l = statOrUndefined(locks, false);
  if (!l) return;
  if (!l.isDirectory() || l.isSymbolicLink()) throw new StateFileError(locks, l.isSymbolicLink() ? 'a symbolic link' : 'not a folder');
  for (const name of readdirSync(locks)) {
    const s = lstatSync(join(locks, name));
    if (!s.isDirectory()) throw new StateFileError(join(locks, name), s.isSymbolicLink() ? 'a symbolic link' : 'not a folder');
  }
}

/** Folders already found private in this run: the check is made once per run, before state is touched. */
const trusted = new Map<string, { existed: boolean }>();

/**
 * Throws a ConfigError (exit 2) naming the fix unless the state folder may be trusted: the folder, when
 * it exists, owned by this user and written by nobody else, and the folder holding it (or, before the
 * first run, the nearest one that exists) not writable by others. The tests run as root, so the owner is
 * compared with process.getuid(), never assumed.
 */
export function checkStateDir(dir: string): void {
  if (trusted.has(dir)) return;
  const uid = currentUid();
  if (uid === undefined) {
    trusted.set(dir, { existed: true });
    return;
  }
  const found = statOrUndefined(dir, true);
  if (found) {
    const real = realpathSync(dir);
    checkFolder(real, uid);
    checkHolder(dirname(real), dir, uid);
    checkEntries(real);
  } else {
    let nearest = dirname(dir);
    while (!statOrUndefined(nearest, true) && dirname(nearest) !== nearest) nearest = dirname(nearest);
    checkHolder(nearest, dir, uid);
  }
  trusted.set(dir, { existed: Boolean(found) });
}

/**
 * Makes the state folder when it is missing, then checks the folder made: someone who got there first
 * (in a shared /tmp) owns it, and it is refused rather than written into.
 */
async function ensureStateDir(dir: string): Promise<void> {
  checkStateDir(dir);
  const seen = trusted.get(dir);
  if (seen?.existed) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const uid = currentUid();
  if (uid !== undefined) checkFolder(realpathSync(dir), uid);
  trusted.set(dir, { existed: true });
}

/**
 * A state file's text, or undefined when there is none. A link or anything but a regular file is
 * refused (StateFileError), and O_NOFOLLOW makes that hold even if a link appears after the check.
 */
export async function readStateFile(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new StateFileError(path, 'a symbolic link');
    throw err;
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new StateFileError(path, describeNonFile(s));
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Replaces a state file: the text goes into a new file of a random name in the same folder, made by this
 * call alone (O_EXCL), readable by this user only and never through a link (O_NOFOLLOW), then renamed
 * over the target. rename replaces a link at the target rather than following it.
 */
export async function writeStateFile(dir: string, path: string, text: string): Promise<void> {
  await ensureStateDir(dir);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    try {
      await handle.writeFile(text, 'utf8');
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

const recordKey = (repository: string, projectId: string) => `${repository.toLowerCase()} ${projectId}`;

export class FileConnectionStore implements ConnectionStore {
  private readonly file: string;

  /**
   * `clean` is applied to every text written (by default none): a record can carry a server's words
   * (a fetch's errors), and the run that writes it may hold a private key a server quoted.
   */
  constructor(
    private readonly dir: string,
    private readonly clean: (text: string) => string = (text) => text,
  ) {
    checkStateDir(dir);
    this.file = join(dir, 'connections.json');
  }

  private async readAll(): Promise<Record<string, ConnectionRecord>> {
    const text = await readStateFile(this.file);
    if (text === undefined) return {};
    try {
      const all = JSON.parse(text) as unknown;
      if (all && typeof all === 'object' && !Array.isArray(all)) return all as Record<string, ConnectionRecord>;
    } catch {
      // damaged: as below
    }
    // A damaged file loses the records: keys then count as not this connection's (labels prove nothing),
    // so they are reported, never removed, and connect starts with a new key.
    return {};
  }

  private async writeAll(all: Record<string, ConnectionRecord>): Promise<void> {
    const text = JSON.stringify(all, (_key, v: unknown) => (typeof v === 'string' ? this.clean(v) : v), 2);
    await writeStateFile(this.dir, this.file, `${text}
`);
  }

  async get(repository: string, projectId: string): Promise<ConnectionRecord | undefined> {
    return (await this.readAll())[recordKey(repository, projectId)];
  }

  async put(record: ConnectionRecord): Promise<void> {
    const all = await this.readAll();
    all[recordKey(record.repository, record.projectId)] = record;
    await this.writeAll(all);
  }

  /** Every connection recorded here. */
  async list(): Promise<ConnectionRecord[]> {
    return Object.values(await this.readAll());
  }

  async delete(repository: string, projectId: string): Promise<void> {
    const all = await this.readAll();
    delete all[recordKey(repository, projectId)];
    await this.writeAll(all);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mkdir is atomic: whoever creates the directory holds the lock; a dead holder's lock is taken over. */
export class DirectoryLock implements Lock {
  constructor(
    private readonly dir: string,
    private readonly opts: { waitMs?: number; onWait?: (name: string) => void } = {},
  ) {
    checkStateDir(dir);
  }

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const locks = join(this.dir, 'locks');
    const path = join(locks, name.replace(/[^a-z0-9._-]+/gi, '_'));
    await ensureStateDir(this.dir);
    await mkdir(locks, { recursive: true, mode: 0o700 });
    const l = statOrUndefined(locks, false);
    if (!l?.isDirectory()) throw new StateFileError(locks, l?.isSymbolicLink() ? 'a symbolic link' : 'not a folder');
    const deadline = Date.now() + (this.opts.waitMs ?? 15 * 60_000);
    let told = false;
    for (;;) {
      try {
        await mkdir(path, { mode: 0o700 });
        const pid = await open(join(path, 'pid'), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
        try {
          await pid.writeFile(String(process.pid));
        } finally {
          await pid.close();
        }
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // Only a folder is a lock; a link planted under a lock's name is not taken for one, nor followed.
        const s = statOrUndefined(path, false);
        if (s && !s.isDirectory()) throw new StateFileError(path, s.isSymbolicLink() ? 'a symbolic link' : 'not a folder');
        const holder = Number((await readStateFile(join(path, 'pid')).catch(() => undefined)) ?? '');
        if (holder && !alive(holder)) {
          await rm(path, { recursive: true, force: true });
          continue;
        }
        if (Date.now() > deadline) {
          throw new Error(`Another run is still working on this repository (lock ${path}). Wait for it, then try again.`);
        }
        if (!told) {
          this.opts.onWait?.(name);
          told = true;
        }
        await sleep(200);
      }
    }
    try {
      return await fn();
    } finally {
      await rm(path, { recursive: true, force: true });
    }
  }
}
