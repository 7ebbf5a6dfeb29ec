/**
 * A Valohai that quotes back pieces of the private key it was given: each way a server could, and a
 * stand-in in front of the Valohai emulator that does it in its answers. Only pieces short enough that a
 * search for the key, or for its long pieces, misses them: the first 15 characters of each line.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { keyBody } from './secret-scan';

export const ECHO_KINDS = ['line heads', 'line heads, JSON-escaped', 'line heads, URL-encoded', 'line heads, cut into lines', 'hex of the key bytes'] as const;
export type EchoKind = (typeof ECHO_KINDS)[number];

/** How many characters of each line the server quotes. */
const HEAD = 15;

/** What a server that quotes pieces of `privateKey` says, in the given way. */
export function keyEcho(privateKey: string, kind: EchoKind): string {
  const heads = privateKey
    .trim()
    .split(/\r?\n/)
    .map((line) => line.slice(0, HEAD));
  switch (kind) {
    // Each line's piece stands apart (a word between them): no piece runs on into the next line's, as
    // the key's own characters would, so each is a piece of at most 15 characters.
    case 'line heads':
      return `the key's lines begin ${heads.join(', then ')}`;
    case 'line heads, JSON-escaped':
      // As a JSON string inside the message, with `/` and `+` escaped as some serializers do.
      return `key=${JSON.stringify(heads.join(' then ')).replace(/\//g, '\\/').replace(/\+/g, '\\u002b')}`;
    case 'line heads, URL-encoded':
      return `see https://valohai.example/keys?lines=${encodeURIComponent(heads.join(' then '))}`;
    case 'line heads, cut into lines':
      // Quoted the way a mail or a log quotes: no line is bare base64.
      return heads.map((head) => (head.match(/.{1,5}/g) ?? []).map((piece) => `| ${piece}`).join('\n')).join('\n| then\n');
    case 'hex of the key bytes': {
      const hex = Buffer.from(keyBody(privateKey), 'base64').toString('hex');
      return `bytes:\n${(hex.match(/.{1,64}/g) ?? []).map((line) => line.slice(0, HEAD)).join('\n')}`;
    }
  }
}

export interface EchoingValohai {
  /** The address to give a Valohai client instead of the emulator's. */
  url: string;
  /** How the next answers quote the key, or undefined to pass everything through. */
  echo: EchoKind | undefined;
  /** In which answer: the refusal of `PATCH repositories/{id}/` (400), or the errors of a fetch. */
  where: 'setRepository' | 'fetch';
  /** Every private key given to Valohai through here, in order. */
  readonly keys: string[];
  /** Answers that quoted a key. */
  echoed: number;
  close(): Promise<void>;
}

function bodyOf(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function privateKeyIn(body: Buffer): string | undefined {
  try {
    const key = (JSON.parse(body.toString('utf8')) as { ssh_private_key?: unknown }).ssh_private_key;
    return typeof key === 'string' && key !== '' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** A stand-in on 127.0.0.1 in front of the Valohai emulator at `target` (its `url`). */
export async function startEchoingValohai(target: string): Promise<EchoingValohai> {
  const state: EchoingValohai = {
    url: '',
    echo: undefined,
    where: 'setRepository',
    keys: [],
    echoed: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await bodyOf(req);
      const path = req.url ?? '/';
      const key = req.method === 'PATCH' && /^\/api\/v0\/repositories\/\d+\/$/.test(path) ? privateKeyIn(body) : undefined;
      if (key) state.keys.push(key);
      if (key && state.echo && state.where === 'setRepository') {
        state.echoed++;
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ssh_private_key: [`This key could not be loaded: ${keyEcho(key, state.echo)}`] }));
        return;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && !['host', 'content-length', 'connection'].includes(name)) headers[name] = value;
      }
      const upstream = await fetch(`${target}${path}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
      });
      let text = await upstream.text();
      const last = state.keys[state.keys.length - 1];
      if (state.echo && state.where === 'fetch' && last && req.method === 'POST' && /^\/api\/v0\/projects\/[^/]+\/fetch\/$/.test(path) && upstream.ok) {
        // A fetch worker's words about the key it was handed, in none of the forms the engine explains.
        const answer = JSON.parse(text) as { commits?: unknown[]; errors?: unknown[] };
        text = JSON.stringify({ ...answer, commits: [], errors: [`fetch worker: unusable deploy key (${keyEcho(last, state.echo)})`] });
        state.echoed++;
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    })().catch((err: unknown) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`the stand-in could not forward: ${String(err)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
