/**
 * Every Bitbucket request the Forge backend can send, checked against what Atlassian's OpenAPI spec
 * says the request's credentials may do. The client builds its paths at run time, out of sight of
 * Forge's permission linter, so the paths are found here by driving the real backend (resolvers,
 * queue consumer and push trigger, over the stand-ins) through every page and workflow, with each
 * Bitbucket transport recorded:
 *
 * - `requestBitbucket` as the app or as the user must be an operation whose `x-atlassian-auth-types`
 *   holds `forge-oauth2`, and whose `x-atlassian-oauth2-scopes` manifest.yml's `permissions.scopes`
 *   all grant;
 * - the stored API token's Basic-auth fetch must be an `api-token` operation, needing no scope beyond
 *   those the workspace page tells the admin to give the token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { BitbucketClient } from '../../src/bitbucket/index';
import { BITBUCKET_TOKEN_SCOPES, type StartConnectPayload } from '../../src/forge/contract';
import { loadBitbucketSpec, pathTemplates } from '../dev/bitbucket/support/spec-checker';
import { bb, PROJECTS, startHarness, valueOf, vh, type BitbucketVia, type Harness, type SentRequest } from './support/forge-fixture';

const root = new URL('../..', import.meta.url).pathname;
const spec = loadBitbucketSpec();
const templateOf = pathTemplates(spec);

interface ScopeEntry {
  state?: string;
  scheme?: string;
  scopes?: string[];
}
interface Operation {
  'x-atlassian-auth-types'?: string[];
  'x-atlassian-oauth2-scopes'?: ScopeEntry[];
}

const manifest = parse(readFileSync(`${root}manifest.yml`, 'utf8')) as { permissions?: { scopes?: string[] } };
const manifestScopes = new Set(manifest.permissions?.scopes ?? []);

/**
 * Scopes a token call may need beyond BITBUCKET_TOKEN_SCOPES, only when the token is saved: `GET /user`
 * names the token's account, and the workspace permission says whether that account is a workspace
 * admin. A token without `read:user:bitbucket` or `read:workspace:bitbucket` is still stored; the page
 * then shows no account name, or does not say whether it is an admin (see src/forge/pages/token-check.ts).
 */
const OPTIONAL_TOKEN_SCOPES: Record<string, string[]> = {
  'GET /user': ['read:user:bitbucket'],
  'GET /user/workspaces/{workspace}/permission': ['read:workspace:bitbucket'],
};

/** The Bitbucket client's methods that the Forge backend, or the engine it runs, call. */
/** The source of every file the backend's entry (src/forge/index.ts) imports, directly or not. */
function backendSources(): string[] {
  const seen = new Map<string, string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const text = readFileSync(file, 'utf8');
    seen.set(file, text);
    for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const target = resolve(dirname(file), m[1] as string);
      const candidates = [`${target}.ts`, join(target, 'index.ts'), target];
      const found = candidates.find((c) => existsSync(c) && c.endsWith('.ts'));
      if (found) visit(found);
    }
  };
  visit(`${root}src/forge/index.ts`);
  return [...seen.values()];
}

function clientMethodsInUse(): string[] {
  const sources = backendSources();
  return clientMethods().filter((m) => sources.some((text) => text.includes(`.${m}(`)));
}

const proto = BitbucketClient.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
const clientMethods = () => Object.getOwnPropertyNames(proto).filter((m) => m !== 'constructor' && typeof proto[m] === 'function');

let h: Harness;
const sent: SentRequest[] = [];
const called = new Set<string>();
const restore: (() => void)[] = [];

const REPO = 'inference-api';
const MANUAL_REPO = 'training-lib';
const choices: StartConnectPayload = { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true };

/** Lets the job a resolver started run to its end (its outcome is other tests' concern). */
async function ran(started: Parameters<typeof valueOf<{ jobId: string }>>[0]): Promise<void> {
  valueOf(started);
  await h.platform.idle();
}

before(async () => {
  // Which client methods the run reaches, to tell a scenario that misses one.
  for (const name of clientMethods()) {
    const original = proto[name];
    if (!original) continue;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      called.add(name);
      return original.apply(this, args);
    };
    restore.push(() => {
      proto[name] = original;
    });
  }

  h = await startHarness({ record: (s) => sent.push(s) });
  const admin = (slug?: string) => h.context('admin', slug);
  const pushEvent = (slug: string) => ({ repository: { uuid: h.repoUuid(slug) }, workspace: { uuid: h.workspaceId }, actor: { accountId: 'x' } });

  // The workspace page, as a member and as the owner, and both credentials saved (each token checked).
  valueOf(await h.call('getWorkspaceSettings', {}, h.context('reader')));
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, admin()));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, admin()));
  valueOf(await h.call('getWorkspaceSettings', {}, admin()));

  // A repository page as a reader and as the admin; previews, one on a branch name with a slash
  // (the client's fallback lookup); then connect, verify, a push, rotate and disconnect.
  valueOf(await h.call('getRepositoryPage', {}, h.context('reader', 'ml-models')));
  valueOf(await h.call('getRepositoryPage', {}, admin(REPO)));
  valueOf(await h.call('previewConnect', { submodules: true }, admin(REPO)));
  await h.call('previewConnect', { submodules: true, ref: 'no-such/branch' }, admin(REPO));
  await ran(await h.call('startConnect', choices, admin(REPO)));
  valueOf(await h.call('getRepositoryPage', {}, admin(REPO)));
  await ran(await h.call('startVerify', {}, admin(REPO)));
  await h.stack.bitbucket.state.pushCommit('acme', REPO, { branch: 'main', message: 'More', files: { 'more.py': 'print(1)\n' } });
  await h.backend.onPush(pushEvent(REPO));
  await h.platform.idle();
  await ran(await h.call('startRotate', {}, admin(REPO)));
  await ran(await h.call('startDisconnect', {}, admin(REPO)));

  // Without the token: the manual path, its verification and its disconnect.
  valueOf(await h.call('clearCredentials', { which: 'bitbucket' }, admin()));
  const manual = { ...choices, projectId: PROJECTS.training.id };
  await ran(await h.call('startManualConnect', manual, admin(MANUAL_REPO)));
  valueOf(await h.call('getRepositoryPage', {}, admin(MANUAL_REPO)));
  await ran(await h.call('verifyManual', {}, admin(MANUAL_REPO)));
  await ran(await h.call('startDisconnect', {}, admin(MANUAL_REPO)));
});
after(async () => {
  for (const undo of restore) undo();
  await h?.close();
});

/** `via METHOD template` for each distinct request sent; fails naming a path the spec lacks. */
function operations(): Map<string, { via: BitbucketVia; method: string; template: string; op: Operation; example: string }> {
  const out = new Map<string, { via: BitbucketVia; method: string; template: string; op: Operation; example: string }>();
  for (const s of sent) {
    const path = new URL(`http://x${s.path}`).pathname;
    const template = templateOf(path);
    assert.ok(template, `${s.method} ${s.path} (${s.via}) is no path of Bitbucket's OpenAPI spec`);
    const op = spec.paths[template]?.[s.method.toLowerCase()] as Operation | undefined;
    assert.ok(op, `${s.method} ${template} (${s.path}, ${s.via}) is no operation of Bitbucket's OpenAPI spec`);
    const key = `${s.via} ${s.method} ${template}`;
    if (!out.has(key)) out.set(key, { via: s.via, method: s.method, template, op, example: s.path });
  }
  return out;
}

const currentScopes = (op: Operation) =>
  (op['x-atlassian-oauth2-scopes'] ?? []).filter((e) => e.state === undefined || e.state === 'Current').flatMap((e) => e.scopes ?? []);

describe('what the Forge backend asks of Bitbucket, against the spec', () => {
  test('the scenario reaches every Bitbucket client method the backend uses, through all three transports', () => {
    const missed = clientMethodsInUse().filter((m) => !called.has(m));
    assert.deepEqual(missed, [], `the scenario above never calls ${missed.join(', ')}: drive it, so its paths are checked`);
    const vias = new Set(sent.map((s) => s.via));
    assert.deepEqual([...vias].sort(), ['app', 'token', 'user']);
    const tokenOps = [...operations().values()].filter((o) => o.via === 'token').map((o) => `${o.method} ${o.template}`);
    for (const method of ['GET', 'POST']) assert.ok(tokenOps.includes(`${method} /repositories/{workspace}/{repo_slug}/deploy-keys`), tokenOps.join('\n'));
    assert.ok(tokenOps.includes('DELETE /repositories/{workspace}/{repo_slug}/deploy-keys/{key_id}'), tokenOps.join('\n'));
  });

  test("requests through requestBitbucket (as the app or the user) are forge-oauth2 operations within the manifest's scopes", () => {
    const problems: string[] = [];
    for (const { via, method, template, op, example } of operations().values()) {
      if (via === 'token') continue;
      const auth = op['x-atlassian-auth-types'] ?? [];
      if (!auth.includes('forge-oauth2')) {
        problems.push(`${method} ${template} (e.g. ${example}), sent as the ${via}, lacks auth type forge-oauth2 (the spec says ${auth.join(', ') || 'none'}): a Forge app cannot call it with requestBitbucket`);
      }
      const missing = currentScopes(op).filter((s) => !manifestScopes.has(s));
      if (missing.length) problems.push(`${method} ${template} (e.g. ${example}), sent as the ${via}, needs scope ${missing.join(', ')}, which manifest.yml permissions.scopes lacks`);
    }
    assert.deepEqual(problems, []);
  });

  test('requests with the stored API token are api-token operations within the scopes the workspace page asks for', () => {
    const granted = new Set<string>(BITBUCKET_TOKEN_SCOPES);
    const problems: string[] = [];
    for (const { via, method, template, op, example } of operations().values()) {
      if (via !== 'token') continue;
      const auth = op['x-atlassian-auth-types'] ?? [];
      if (!auth.includes('api-token')) problems.push(`${method} ${template} (e.g. ${example}) lacks auth type api-token (the spec says ${auth.join(', ') || 'none'})`);
      const optional = OPTIONAL_TOKEN_SCOPES[`${method} ${template}`] ?? [];
      const missing = currentScopes(op).filter((s) => !granted.has(s) && !optional.includes(s));
      if (missing.length) problems.push(`${method} ${template} (e.g. ${example}) needs scope ${missing.join(', ')}, which BITBUCKET_TOKEN_SCOPES does not ask the admin for`);
    }
    assert.deepEqual(problems, []);
  });
});
