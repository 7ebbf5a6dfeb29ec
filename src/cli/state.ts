/**
 * What the CLI remembers between runs, in one JSON file (fingerprints, key ids, labels: never a private
 * key), and a lock directory so that two runs on one repository take turns.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionRecord, ConnectionStore, Lock } from '../connect/index';

export function stateDir(env: Record<string, string | undefined>): string {
  if (env.VALOHAI_BITBUCKET_STATE_DIR) return env.VALOHAI_BITBUCKET_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'valohai-bitbucket');
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
    this.file = join(dir, 'connections.json');
  }

  private async readAll(): Promise<Record<string, ConnectionRecord>> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as Record<string, ConnectionRecord>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      // A damaged file loses the records: keys then count as not this connection's (labels prove nothing),
      // so they are reported, never removed, and connect starts with a new key.
      return {};
    }
  }

  private async writeAll(all: Record<string, ConnectionRecord>): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const text = JSON.stringify(all, (_key, v: unknown) => (typeof v === 'string' ? this.clean(v) : v), 2);
    await writeFile(tmp, `${text}\n`, { mode: 0o600 });
    await rename(tmp, this.file);
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
  ) {}

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const path = join(this.dir, 'locks', name.replace(/[^a-z0-9._-]+/gi, '_'));
    await mkdir(join(this.dir, 'locks'), { recursive: true, mode: 0o700 });
    const deadline = Date.now() + (this.opts.waitMs ?? 15 * 60_000);
    let told = false;
    for (;;) {
      try {
        await mkdir(path);
        await writeFile(join(path, 'pid'), String(process.pid));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = Number(await readFile(join(path, 'pid'), 'utf8').catch(() => ''));
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
