/**
 * The Forge backend over the in-memory platform, wired to the real stand-ins: the Bitbucket emulator
 * (demo seed), the SSH git host and the Valohai emulator whose fetch runs git over SSH. "As the app"
 * reads use the demo admin's credentials (the emulator has no app principal); "as the user" picks the
 * demo user by the context's account id, as Forge's asUser() acts as the invoking user.
 */
import assert from 'node:assert/strict';
import { addSpend, createFetchTransport, emptyHour, type BitbucketTransport, type TokenHour } from '../../../src/bitbucket/index';
import { KvTokenHourStore, tokenAccount } from '../../../src/forge/store/token-ledger';
import type { GeneratedKey } from '../../../src/connect/index';
import type { ReplyOf } from './reply';
import { RESOLVERS, type JobView, type PayloadOf, type ResolverName } from '../../../src/forge/contract';
import { createMemoryBackend, type MemoryPlatform } from '../../../dev/forge/memory-platform';
import type { Backend } from '../../../src/forge/backend';
import { EGRESS_VALOHAI_ORIGINS, type TrustedContext } from '../../../src/forge/platform/ports';
import { generateKeyPair } from '../../../src/ssh/index';
import { startStack, type Stack } from '../../../dev/stack';
import { demoBitbucketCredentials as bb, trustCredentials, type BuiltSeed, type Seed } from '../../../dev/seed/index';
import { demoValohaiCredentials as vh, demoValohaiSeed, type ValohaiApiSettings, type ValohaiSeed } from '../../../dev/valohai/index';
import { secretsIn } from '../../support/secret-scan';

export { bb, vh };

/** The demo's Valohai world plus one project per repository the tests connect. */
// Each project's id differs in its first twelve characters, as ids of projects made at different times do:
// those twelve are the marker the app's key labels carry (src/connect/label.ts).
export const PROJECTS = {
  inference: { id: '6c1d2e3f-4a01-4c6d-8e7f-0a1b2c3d4e01', name: 'inference', repositoryId: 2001 },
  datasets: { id: '6c1d2e3f-4a02-4c6d-8e7f-0a1b2c3d4e02', name: 'datasets', repositoryId: 2002 },
  training: { id: '6c1d2e3f-4a03-4c6d-8e7f-0a1b2c3d4e03', name: 'training', repositoryId: 2003 },
} as const;

export const valohaiSeed: ValohaiSeed = {
  ...demoValohaiSeed,
  projects: [
    ...(demoValohaiSeed.projects ?? []),
    ...Object.values(PROJECTS).map((p) => ({ id: p.id, owner: 'acme', name: p.name, repository: { id: p.repositoryId, url: '', ref: '' } })),
  ],
};

/** The Valohai project the trust tests connect acme/mallory-tools to (Mallory's own). */
export const TOOLS = { id: '6c1d2e3f-4a10-4c6d-8e7f-0a1b2c3d4e10', name: 'tools', repositoryId: 2010 } as const;

/** The Valohai world with Mallory's project beside the others. */
export const valohaiSeedWithTools: ValohaiSeed = {
  ...valohaiSeed,
  projects: [...(valohaiSeed.projects ?? []), { id: TOOLS.id, owner: 'acme', name: TOOLS.name, repository: { id: TOOLS.repositoryId, url: '', ref: '' } }],
};

export type Who = 'admin' | 'writer' | 'reader' | 'outsider' | 'mallory';

/** Which of the platform's Bitbucket transports a request went through. */
export type BitbucketVia = 'app' | 'user' | 'token';

/** One request the backend sent to Bitbucket: the path is below `/2.0`, as the transport got it. */
export interface SentRequest {
  via: BitbucketVia;
  method: string;
  path: string;
}

function recording(transport: BitbucketTransport, via: BitbucketVia, record: ((sent: SentRequest) => void) | undefined): BitbucketTransport {
  if (!record) return transport;
  return {
    request: (req) => {
      record({ via, method: req.method, path: req.path });
      return transport.request(req);
    },
  };
}

export interface Harness {
  stack: Stack;
  platform: MemoryPlatform;
  backend: Backend;
  /** `{uuid}` of workspace acme. */
  workspaceId: string;
  repoUuid(slug: string): string;
  context(who: Who, slug?: string): TrustedContext;
  call<K extends ResolverName>(name: K, payload: PayloadOf<K> | Record<string, unknown>, context: TrustedContext): Promise<ReplyOf<K>>;
  /** Every resolver reply so far, as JSON text. */
  replies: string[];
  /** Every private key generated so far. */
  privateKeys: string[];
  /** Moves the backend's clock (not the emulators'). */
  advance(ms: number): void;
  adminTransport(): BitbucketTransport;
  close(): Promise<void>;
}

// Mallory exists only in the trust seed; elsewhere her requests are refused as unknown credentials.
const people = { admin: bb.admin, writer: bb.writer, reader: bb.reader, outsider: bb.outsider, mallory: trustCredentials.mallory } as const;

export interface HarnessOptions {
  holdQueue?: boolean;
  seed?: Seed;
  /** A world built beforehand (buildFleetSeed), served instead of `seed` and removed on close. */
  built?: BuiltSeed;
  /** The Bitbucket emulator follows the backend's clock (advance() moves its rate-limit hour too). */
  shareClock?: boolean;
  valohaiSeed?: ValohaiSeed;
  /** Where the Valohai stand-in's API differs from the default (repository field names, PATCH refused). */
  valohaiApi?: Partial<ValohaiApiSettings>;
  rateLimitPerHour?: number;
  /** Milliseconds the Bitbucket emulator holds a request before its 429, as Bitbucket may (about 30 s). */
  rateLimitHoldMs?: number;
  /** Sees every request the backend sends through its Bitbucket transports (as the app, as the user, with the stored token). */
  record?: (sent: SentRequest) => void;
  /** Wraps the stored API token's transport (to count its requests). */
  watchToken?: (transport: BitbucketTransport) => BitbucketTransport;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  let offset = 0;
  const now = () => new Date(Date.now() + offset);
  const stack = await startStack({
    valohaiSeed: options.valohaiSeed ?? valohaiSeed,
    ...(options.valohaiApi ? { valohaiApi: options.valohaiApi } : {}),
    seed: options.seed,
    rateLimitPerHour: options.rateLimitPerHour,
    ...(options.rateLimitHoldMs ? { rateLimitHoldMs: options.rateLimitHoldMs } : {}),
    ...(options.built ? { built: options.built } : {}),
    ...(options.shareClock ? { bitbucketClock: now } : {}),
  });
  const transportFor = (email: string, token: string) => createFetchTransport({ baseUrl: stack.bitbucket.url, email, apiToken: token });
  const byAccount = new Map<string, BitbucketTransport>(Object.values(people).map((p) => [p.accountId, transportFor(p.email, p.token)]));
  const privateKeys: string[] = [];
  const { platform, backend } = createMemoryBackend({
    bitbucketAsApp: recording(transportFor(bb.admin.email, bb.admin.token), 'app', options.record),
    bitbucketAsUser: (ctx) => {
      const transport = byAccount.get(ctx.accountId);
      assert.ok(transport, `no demo user with account id ${ctx.accountId}`);
      return recording(transport, 'user', options.record);
    },
    // The Valohai stand-in's address counts as egress the deployment allows, beside the manifest's.
    valohaiOrigins: [...EGRESS_VALOHAI_ORIGINS, stack.valohai.url],
    bitbucketApiUrl: stack.bitbucket.url,
    makeBitbucketWithToken: ({ email, token }, limits) => {
      const transport = recording(
        createFetchTransport({ baseUrl: stack.bitbucket.url, email, apiToken: token, timeoutMs: limits.timeoutMs }),
        'token',
        options.record,
      );
      return options.watchToken ? options.watchToken(transport) : transport;
    },
    clock: { now },
    holdQueue: options.holdQueue,
    // Ed25519 keeps the runs fast; the RSA path is the same code with a slower generator.
    generateKey: async ({ type, comment }): Promise<GeneratedKey> => {
      const key = await generateKeyPair({ type, comment });
      privateKeys.push(key.privateKey);
      return key;
    },
  });
  const ws = stack.bitbucket.state.findWorkspace('acme');
  assert.ok(ws);
  const workspaceId = ws.uuid;
  const repoUuid = (slug: string) => {
    const repo = stack.bitbucket.state.findRepo(ws, slug);
    assert.ok(repo, `no repository acme/${slug}`);
    return repo.uuid;
  };
  const replies: string[] = [];
  return {
    stack,
    platform,
    backend,
    workspaceId,
    repoUuid,
    context: (who, slug) => ({
      workspaceId,
      accountId: people[who].accountId,
      ...(slug ? { repositoryUuid: repoUuid(slug) } : {}),
    }),
    async call(name, payload, context) {
      assert.ok(RESOLVERS.includes(name));
      const reply = await backend.resolvers[name](payload, context);
      replies.push(JSON.stringify(reply));
      return reply as ReplyOf<typeof name>;
    },
    replies,
    privateKeys,
    advance: (ms) => {
      offset += ms;
    },
    adminTransport: () => transportFor(bb.admin.email, bb.admin.token),
    close: async () => {
      await platform.idle();
      await stack.close();
    },
  };
}

/** The reply's value, failing the test with the reply's error when it is not ok. */
export function valueOf<T>(reply: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }): T {
  if (!reply.ok) assert.fail(`expected ok, got ${reply.error.code}: ${reply.error.message}`);
  return reply.value;
}

type ErrorReply = { code: string; message: string; fix: string; temporary?: boolean; field?: string };

export function errorOf(reply: { ok: boolean; error?: ErrorReply }): ErrorReply {
  assert.equal(reply.ok, false, `expected an error reply, got ${JSON.stringify(reply).slice(0, 300)}`);
  assert.ok(reply.error);
  return reply.error;
}

/** The base64 body lines of a PEM/OpenSSH private key: any of them showing up anywhere is a leak. */
function keyBodyLines(privateKey: string): string[] {
  return privateKey
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length >= 40 && !l.startsWith('-----'));
}

/**
 * Fails when any text holds a private key (armour or any body line) or any of the tokens. `where`
 * names the texts in the failure message.
 */
export function assertNoSecrets(texts: Iterable<[string, string]>, privateKeys: readonly string[], tokens: readonly string[]): number {
  for (const key of privateKeys) assert.ok(keyBodyLines(key).length > 0, 'a private key with no body lines to look for');
  const needles = [...privateKeys.flatMap(keyBodyLines), ...tokens];
  let scanned = 0;
  for (const [where, text] of texts) {
    scanned++;
    assert.ok(!/PRIVATE KEY-----/.test(text), `${where} holds a private key armour line`);
    for (const needle of needles) {
      assert.ok(!text.includes(needle), `${where} holds a secret (${needle.slice(0, 6)}…)`);
    }
    // Also decoded (URL-encoded, JSON-escaped) and in pieces (a key cut into short lines).
    const found = secretsIn(text, [
      ...privateKeys.map((value, i) => ({ name: `private key ${i + 1}`, value, key: true })),
      ...tokens.map((value, i) => ({ name: `token ${i + 1}`, value })),
    ]);
    assert.deepEqual(found, [], `${where} gives away a secret`);
  }
  return scanned;
}

export const ALL_TOKENS = [bb.admin.token, bb.adminWithoutWriteSshKey.token, bb.writer.token, bb.reader.token, bb.outsider.token, vh.admin.token, vh.outsider.token];

/** The UUID of any repository of the stand-ins, by `workspace/slug`. */
export function uuidOf(h: Pick<Harness, 'stack'>, fullName: string): string {
  const [ws = '', slug = ''] = fullName.split('/');
  const repo = h.stack.bitbucket.state.findRepo(ws, slug);
  assert.ok(repo, fullName);
  return repo.uuid;
}

/** Stores the demo admin's Valohai and Bitbucket tokens, as the admin does on the workspace page. */
export async function storeAdminTokens(h: Harness): Promise<void> {
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
}

/** Connects acme/`slug` to `projectId` with the stored token (submodules too) and waits for the job. */
export async function connectWithToken(h: Harness, slug: string, projectId: string): Promise<JobView> {
  const { jobId } = valueOf(await h.call('startConnect', { projectId, ref: 'main', keyType: 'ed25519', submodules: true }, h.context('admin', slug)));
  await h.platform.idle();
  return valueOf(await h.call('getJob', { jobId }, h.context('admin', slug)));
}

/**
 * Other work of the stored token's user (the demo admin) spent `spent` requests in the current minute:
 * written into the app's ledger as any job's flush writes it.
 */
export async function spendTokenHour(h: Pick<Harness, 'platform'>, spent: { interactive?: number; unattended?: number }): Promise<TokenHour> {
  const now = h.platform.clock.now();
  const ledger = new KvTokenHourStore(h.platform.store, h.platform.clock, tokenAccount({ email: bb.admin.email }));
  return ledger.add(addSpend(emptyHour(), now, spent), now);
}
