// The Forge adapter: what `@forge/resolver` hands the backend. Workspace and repository come from the
// invocation context, the account from Forge's principal (a context field of the same name is
// overridden), and a context that names no workspace gets an error reply, never a throw.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createForgeHandlers, trustedContext } from '../../src/forge/handlers';
import { ALLOWED_KEY, bareUuid, escapeKeyPart, InvalidContextIdError, keys } from '../../src/forge/store/keys';
import { fakeBackend, REPO, WS } from './support/fakes';

function invoke(handlers: ReturnType<typeof createForgeHandlers>, functionKey: string, payload: unknown, context: unknown, principal?: string) {
  return handlers.resolver({ call: { functionKey, payload }, context: context as Record<string, unknown> }, principal ? { principal: { accountId: principal } } : undefined);
}

describe('Forge resolver adapter', () => {
  test("the account is Forge's principal, not whatever the context claims", async () => {
    const { platform, seen } = fakeBackend({ admin: 'admin', writer: 'write' });
    const handlers = createForgeHandlers(platform);
    const reply = (await invoke(
      handlers,
      'startVerify',
      {},
      { workspaceId: WS, extension: { repository: { uuid: REPO } }, accountId: 'admin' },
      'writer',
    )) as { ok: boolean; error?: { code: string } };
    assert.equal(reply.ok, false);
    assert.equal(reply.error?.code, 'not-admin');
    assert.ok(seen.some((s) => s.accountId === 'writer' && s.path.startsWith('/user/workspaces/')));
    assert.ok(!seen.some((s) => s.accountId === 'admin'));
  });

  test('workspace and repository are read from the context, never the payload', async () => {
    const { platform } = fakeBackend();
    const handlers = createForgeHandlers(platform);
    const fromPayload = (await invoke(handlers, 'getRepositoryPage', { workspaceId: WS, repositoryUuid: REPO }, { workspaceId: WS }, 'admin')) as {
      ok: boolean;
      error?: { code: string };
    };
    assert.equal(fromPayload.error?.code, 'invalid-payload');
    const noWorkspace = (await invoke(handlers, 'getWorkspaceSettings', {}, { extension: {} }, 'admin')) as { ok: boolean; error?: { code: string } };
    assert.equal(noWorkspace.ok, false);
    assert.equal(noWorkspace.error?.code, 'invalid-payload');
  });

  test('trustedContext takes the documented fields and brace-normalises the UUIDs', () => {
    const bare = WS.slice(1, -1).toUpperCase();
    assert.deepEqual(trustedContext({ workspaceId: bare, extension: { repository: { uuid: REPO } }, accountId: 'a', moduleKey: 'valohai-repo-settings', other: 1 }), {
      workspaceId: WS,
      repositoryUuid: REPO,
      accountId: 'a',
      moduleKey: 'valohai-repo-settings',
    });
    assert.throws(() => trustedContext({ workspaceId: 'acme' }), InvalidContextIdError);
  });

  test("a platform error the page must see (Forge's asUser consent) is let through to Forge", async () => {
    const { platform } = fakeBackend();
    const consent = Object.assign(new Error('Authentication Required'), { name: 'NEEDS_AUTHENTICATION_ERR' });
    let ran = false;
    Object.assign(platform, {
      runResolver: async (call: () => Promise<unknown>) => {
        await call();
        ran = true;
        throw consent;
      },
    });
    const handlers = createForgeHandlers(platform);
    await assert.rejects(invoke(handlers, 'getRepositoryPage', {}, { workspaceId: WS, extension: { repository: { uuid: REPO } } }, 'admin'), consent);
    assert.ok(ran);
  });

  test("only the app's own resolver names answer: inherited names such as constructor are refused", async () => {
    const { platform } = fakeBackend();
    const handlers = createForgeHandlers(platform);
    const context = { workspaceId: WS, extension: { repository: { uuid: REPO } } };
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', '__defineGetter__', 'isPrototypeOf', 'toLocaleString']) {
      await assert.rejects(invoke(handlers, name, { x: 1 }, context, 'admin'), /no definition/, `${name} answered`);
    }
    await assert.rejects(invoke(handlers, 'noSuchResolver', {}, context, 'admin'), /no definition/);
    const page = (await invoke(handlers, 'getRepositoryPage', {}, context, 'admin')) as { ok: boolean };
    assert.equal(typeof page.ok, 'boolean', 'a real resolver still answers');
  });

  test('the queue consumer takes the event body and never throws', async () => {
    const { platform } = fakeBackend();
    const handlers = createForgeHandlers(platform);
    await handlers.jobConsumer({ body: { type: 'job', jobId: 'gone' }, queueName: 'connection-jobs', jobId: 'x', eventId: 'y' });
    await handlers.jobConsumer(undefined);
    assert.ok(platform.log.lines.some((l) => l.message === 'queued job has no record'));
  });
});

describe('storage keys', () => {
  test('UUIDs lose their braces and case; anything else is refused', () => {
    assert.equal(bareUuid('{ABCDEF01-2345-4678-89AB-CDEF01234567}', 'workspace'), 'abcdef01-2345-4678-89ab-cdef01234567');
    assert.throws(() => bareUuid('acme', 'workspace'), /workspace in the request context is not a UUID/);
    assert.equal(keys.connection(WS, REPO), `conn:${WS.slice(1, -1)}:${REPO.slice(1, -1)}`);
  });

  test("escaped names stay inside Forge's key alphabet and distinct names stay distinct", () => {
    const names = ['repo:acme/models', 'repo:acme_models', 'repo:acme#2fmodels', 'repo:ácme/modèls', 'a b'];
    const escaped = names.map(escapeKeyPart);
    assert.equal(new Set(escaped).size, names.length);
    for (const e of escaped) assert.match(e, ALLOWED_KEY);
    assert.match(keys.lock('repo:acme/models'), ALLOWED_KEY);
  });
});
