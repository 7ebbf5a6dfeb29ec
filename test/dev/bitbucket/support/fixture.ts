/**
 * Shared helpers for the emulator tests: start it on the demo seed, call it as one of the demo users,
 * and make throwaway SSH public keys of each type with ssh-keygen in a temp dir.
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startBitbucketEmulator, type BitbucketEmulator, type BitbucketEmulatorOptions } from '../../../../dev/bitbucket/index';
import { demoBitbucketCredentials, demoSeed } from '../../../../dev/seed/index';

export const creds = demoBitbucketCredentials;

export interface Reply {
  status: number;
  contentType: string;
  text: string;
  /** Parsed body when JSON, else undefined. */
  json: unknown;
  headers: Headers;
}

export type As = { email: string; token: string } | { bearer: string } | 'anonymous' | { header: string };

export function authHeader(as: As): string | undefined {
  if (as === 'anonymous') return undefined;
  if ('header' in as) return as.header;
  if ('bearer' in as) return `Bearer ${as.bearer}`;
  return `Basic ${Buffer.from(`${as.email}:${as.token}`).toString('base64')}`;
}

export interface CallOptions {
  as?: As;
  method?: string;
  /** Objects are sent as JSON. */
  body?: unknown;
}

export interface DemoEmulator {
  bb: BitbucketEmulator;
  /** Calls `path` below `/2.0` (or an absolute URL, e.g. a `next` link). Defaults to the demo admin. */
  call(path: string, options?: CallOptions): Promise<Reply>;
}

export async function fetchReply(url: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  const auth = authHeader(options.as ?? creds.admin);
  if (auth) headers.authorization = auth;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method: options.method ?? 'GET', headers, body });
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  let json: unknown;
  if (contentType.includes('application/json')) json = JSON.parse(text);
  return { status: res.status, contentType, text, json, headers: res.headers };
}

export async function startDemo(options: Partial<BitbucketEmulatorOptions> = {}): Promise<DemoEmulator> {
  const bb = await startBitbucketEmulator({ seed: demoSeed, ...options });
  return {
    bb,
    call: (path, callOptions) => fetchReply(path.startsWith('http') ? path : `${bb.url}${path}`, callOptions),
  };
}

/** GET with the path sent byte for byte (fetch would resolve `..` segments before sending). */
export function rawGet(demo: DemoEmulator, rawPath: string, as: As = creds.admin): Promise<{ status: number; text: string }> {
  const url = new URL(demo.bb.origin);
  const auth = authHeader(as);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: rawPath, headers: auth ? { authorization: auth } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads a JSON reply as an object (fails the test with the body when it is not one). */
export function obj(reply: Reply): Record<string, unknown> {
  if (typeof reply.json !== 'object' || reply.json === null) {
    throw new Error(`Expected a JSON object, got ${reply.status} ${reply.contentType}: ${reply.text.slice(0, 300)}`);
  }
  return reply.json as Record<string, unknown>;
}

export function errorMessage(reply: Reply): string {
  const error = obj(reply).error as { message?: unknown } | undefined;
  return String(error?.message ?? '');
}

/**
 * The one message of a 400 in Bitbucket's bare field form, `{"<field>": [{"message": "..."}]}` (how it
 * refuses an access key added), or with `envelope`, in `{"type": "error", "error": {"message":
 * "Bad request", "fields": {"<field>": ["..."]}}}`; fails the test when the body has another shape.
 */
export function fieldMessage(reply: Reply, field = 'key', form: 'bare' | 'envelope' = 'bare'): string {
  const body = obj(reply);
  if (form === 'envelope') {
    const error = body.error as { message?: unknown; fields?: Record<string, unknown> } | undefined;
    const list = error?.fields?.[field];
    if (reply.status !== 400 || body.type !== 'error' || error?.message !== 'Bad request' || !Array.isArray(list) || list.length !== 1 || typeof list[0] !== 'string') {
      throw new Error(`Expected a 400 error envelope with fields.${field}, got ${reply.status}: ${reply.text.slice(0, 300)}`);
    }
    return list[0];
  }
  const entries = body[field];
  if (reply.status !== 400 || Object.keys(body).length !== 1 || !Array.isArray(entries) || entries.length !== 1) {
    throw new Error(`Expected a 400 {"${field}": [{"message": ...}]}, got ${reply.status}: ${reply.text.slice(0, 300)}`);
  }
  const message = (entries[0] as { message?: unknown }).message;
  if (typeof message !== 'string' || message === '') throw new Error(`The "${field}" entry has no message: ${reply.text.slice(0, 300)}`);
  return message;
}

const run = promisify(execFile);

export interface KeyMaker {
  /** Public key line of a fresh key, e.g. keyOf('rsa', 1024) or keyOf('ed25519'). */
  keyOf(type: 'ed25519' | 'rsa' | 'dsa' | 'ecdsa', bits?: number, comment?: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function keyMaker(): Promise<KeyMaker> {
  const dir = await mkdtemp(join(tmpdir(), 'bb-keys-'));
  let n = 0;
  return {
    async keyOf(type, bits, comment = `test-${type}@example`) {
      const file = join(dir, `k${n++}`);
      const args = ['-q', '-t', type, '-N', '', '-C', comment, '-f', file];
      if (bits) args.push('-b', String(bits));
      await run('ssh-keygen', args);
      return (await readFile(`${file}.pub`, 'utf8')).trim();
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
