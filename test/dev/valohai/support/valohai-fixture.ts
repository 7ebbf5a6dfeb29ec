/**
 * The Valohai emulator wired to a real SSH git host over a throwaway git world, plus a small HTTP
 * caller that speaks `Authorization: Token`.
 */
import type { SshGitHost } from '../../../../dev/ssh-host/index';
import { startSshGitHost } from '../../../../dev/ssh-host/index';
import { startValohaiEmulator, type HttpsRepositoryLookup, type ValohaiEmulator, type ValohaiSeed } from '../../../../dev/valohai/index';
import { createGitWorld, type GitWorld } from '../../ssh-host/support/git-world';

export const TOKEN = 'tok-tester-0123456789';
export const OTHER_TOKEN = 'tok-other-0123456789';

export const testSeed: ValohaiSeed = {
  users: [
    { username: 'tester', email: 'tester@example.test', tokens: [TOKEN] },
    { username: 'other', email: 'other@example.test', tokens: [OTHER_TOKEN] },
  ],
  organizations: [
    { name: 'acme', members: ['tester'], teams: [{ name: 'ml', members: ['tester'] }] },
    { name: 'umbrella', members: ['other'] },
  ],
  projects: [
    { id: '00000000-0000-4000-8000-000000000001', owner: 'acme', name: 'alpha' },
    { id: '00000000-0000-4000-8000-000000000002', owner: 'acme', name: 'beta' },
    { id: '00000000-0000-4000-8000-000000000003', owner: 'acme', name: 'gamma' },
    { id: '00000000-0000-4000-8000-000000000004', owner: 'acme', name: 'delta' },
    { id: '00000000-0000-4000-8000-000000000005', owner: 'tester', name: 'personal' },
    { id: '00000000-0000-4000-8000-000000000006', owner: 'umbrella', name: 'hidden' },
    { id: '00000000-0000-4000-8000-000000000007', owner: 'acme', name: 'no-repository', repository: null },
  ],
};

export interface Reply {
  status: number;
  text: string;
  json: unknown;
  headers: Headers;
}

export interface CallOptions {
  method?: string;
  /** Objects are sent as JSON, strings as they are. */
  body?: unknown;
  /** Default TOKEN; null sends no Authorization header; a string starting with a scheme is sent as is. */
  token?: string | null;
  authorization?: string;
}

export async function call(base: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.token !== null) headers.authorization = `Token ${options.token ?? TOKEN}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(path.startsWith('http') ? path : `${base}${path}`, { method: options.method ?? 'GET', headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

export const obj = (r: Reply): Record<string, unknown> => {
  if (typeof r.json !== 'object' || r.json === null || Array.isArray(r.json)) throw new Error(`not a JSON object (${r.status}): ${r.text}`);
  return r.json as Record<string, unknown>;
};

export interface Stack {
  world: GitWorld;
  ssh: SshGitHost;
  vh: ValohaiEmulator;
  /** Calls a path below `/api/v0`. */
  api(path: string, options?: CallOptions): Promise<Reply>;
  close(): Promise<void>;
}

export async function startStack(seed: ValohaiSeed = testSeed, workDir?: string, options: { httpsRepository?: HttpsRepositoryLookup } = {}): Promise<Stack> {
  const world = await createGitWorld();
  const ssh = await startSshGitHost({ directory: world.directory });
  const vh = await startValohaiEmulator({ seed, ssh: ssh.endpoint(), workDir, httpsRepository: options.httpsRepository });
  return {
    world,
    ssh,
    vh,
    api: (path, options) => call(vh.apiUrl, path, options),
    async close() {
      await vh.close();
      await ssh.close();
      await world.cleanup();
    },
  };
}
