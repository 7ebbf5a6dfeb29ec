/**
 * The Valohai API emulator: `/api/v0` as the product calls it, with a fetch that runs real git over SSH
 * against the local SSH git host, fault rules (`/__faults`) and a request log with the private key
 * taken out. Tests read the state in-process (`emulator.state`), which shows whether a key is set and
 * its fingerprint but never the key.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SshGitEndpoint } from '../contracts';
import { FaultInjector } from '../faults';
import { serve, type RunningServer } from '../http';
import { NOT_FOUND } from './drf';
import { GitFetcher, type HttpsRepositoryLookup } from './git-fetcher';
import { createValohaiPagesRouter, settingsPagePath } from './pages';
import { redactRequestBody } from './redact';
import { API_BASE, createValohaiRouter, defaultApiSettings, type ValohaiApiSettings } from './routes';
import type { ValohaiSeed } from './seed-types';
import { ValohaiState } from './state';

export interface ValohaiEmulatorOptions {
  seed: ValohaiSeed;
  /** Where "bitbucket.org" is reached over SSH (the local SSH git host). */
  ssh: SshGitEndpoint;
  /** Directory for the per-project mirrors; a temp dir removed on close() when absent. */
  workDir?: string;
  clock?: () => Date;
  /** Per git call of a fetch (default 120 000). */
  gitTimeoutMs?: number;
  /**
   * The repository behind an `https://bitbucket.org/ws/repo(.git)` URL, for fetches that meet one (as
   * the superproject or a submodule at any depth): a public one is fetched anonymously from its bare
   * repository, a private one fails as git's credential prompt does. Undefined (or no lookup at all)
   * leaves the URL refused, as it is for every other https host.
   */
  httpsRepository?: HttpsRepositoryLookup;
  /** Where this Valohai's API differs from the default (repository field names, PATCH refused). */
  api?: Partial<ValohaiApiSettings>;
}

export interface RequestLogEntry {
  method: string;
  /** Path and query. */
  path: string;
  status: number;
  /** The request body with `ssh_private_key` replaced by `[redacted]`. */
  body: string;
}

export interface ValohaiEmulator {
  /** `http://127.0.0.1:PORT`: the host to give a Valohai client. */
  url: string;
  /** The project's repository settings page (URL, Fetch reference, Generate SSH Key), as Valohai's UI has it. */
  settingsPageUrl(owner: string, name: string): string;
  /** `http://127.0.0.1:PORT/api/v0`. */
  apiUrl: string;
  port: number;
  state: ValohaiState;
  faults: FaultInjector;
  requests: RequestLogEntry[];
  /** How the API is built; a test may change it while the emulator runs. */
  api: ValohaiApiSettings;
  close(): Promise<void>;
}

export async function startValohaiEmulator(options: ValohaiEmulatorOptions): Promise<ValohaiEmulator> {
  const state = new ValohaiState(options.seed, options.clock);
  const ownDir = options.workDir === undefined;
  const root = options.workDir ?? (await mkdtemp(join(tmpdir(), 'vb-valohai-')));
  const fetcher = new GitFetcher({ root, ssh: options.ssh, timeoutMs: options.gitTimeoutMs, httpsRepository: options.httpsRepository });
  const running = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    running.add(work);
    void work.catch(() => undefined).finally(() => running.delete(work));
    return work;
  };
  const faults = new FaultInjector();
  const requests: RequestLogEntry[] = [];
  const api = defaultApiSettings(options.api);
  let server: RunningServer;
  try {
    server = await serve([createValohaiRouter({ state, fetcher, track, api }), createValohaiPagesRouter({ state, fetcher, track })], {
      faults,
      before: (req) => faults.control(req),
      notFound: (req) => (req.path.startsWith(API_BASE) ? NOT_FOUND : { status: 404, body: 'Not Found' }),
      onRequest: (entry) => requests.push({ method: entry.method, path: entry.path, status: entry.status, body: redactRequestBody(entry.body) }),
    });
  } catch (err) {
    if (ownDir) await rm(root, { recursive: true, force: true });
    throw err;
  }
  return {
    url: server.url,
    apiUrl: `${server.url}${API_BASE}`,
    settingsPageUrl: (owner, name) => `${server.url}${settingsPagePath(owner, name)}`,
    port: server.port,
    state,
    faults,
    requests,
    api,
    async close() {
      await server.close();
      await Promise.allSettled([...running]);
      if (ownDir) await rm(root, { recursive: true, force: true });
    },
  };
}
