/**
 * The private key given to setRepository must never surface: not in a thrown error (message, stack,
 * JSON, util.inspect with hidden fields), not in what the retry hook sees, not in anything written to
 * the console, whichever way the call fails, and even when the server echoes the key back.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import type { RetryInfo } from '../../src/http/retry';
import { ValohaiError, ValohaiNetworkError, ValohaiValidationError } from '../../src/valohai/errors';
import { echoes, secretsIn } from '../support/secret-scan';
import { startFakeValohai, VH_TOKEN, type FakeValohai } from './fake-valohai';

const { privateKey: KEY } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
});
const BODY = KEY.split('\n').filter((l) => l && !l.startsWith('-----')).join('');

/** Every 24-character piece of the key's base64 (step 8), the whole key, and the token. */
const NEEDLES = (() => {
  const out = new Set<string>([KEY.trim(), VH_TOKEN]);
  for (let i = 0; i + 24 <= BODY.length; i += 8) out.add(BODY.slice(i, i + 24));
  return [...out];
})();

function assertClean(text: string, where: string): void {
  for (const needle of NEEDLES) assert.ok(!text.includes(needle), `${where} contains secret material: …${needle}…`);
  // Also decoded (URL-encoded, JSON-escaped) and in pieces (cut into short lines).
  assert.deepEqual(secretsIn(text, [{ name: 'the private key', value: KEY, key: true }, { name: 'the token', value: VH_TOKEN }]), [], `${where} gives away a secret`);
}

function views(value: unknown): string[] {
  const out = [inspect(value, { showHidden: true, depth: Infinity, getters: true }), String(value)];
  if (value instanceof Error) out.push(value.message, value.stack ?? '', JSON.stringify(value));
  return out;
}

/** Runs `fn` with console and process output captured (and still passed through). */
async function capturingOutput<T>(fn: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => console[m]);
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  for (const m of methods) console[m] = (...args: unknown[]) => chunks.push(format(...args));
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    chunks.push(String(chunk));
    return out(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    chunks.push(String(chunk));
    return err(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    const result = await fn();
    return { result, output: chunks.join('\n') };
  } finally {
    methods.forEach((m, i) => {
      console[m] = saved[i] as (typeof console)[typeof m];
    });
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

describe('setRepository never reveals the private key', () => {
  let vh: FakeValohai;
  const settings = { url: 'git@bitbucket.org:acme/models.git', ref: 'main', sshPrivateKey: KEY };

  before(async () => {
    vh = await startFakeValohai([{ id: '0184a9b4-1111-4222-8333-444455556666', name: 'models', owner: 'acme', repository: { id: 41, url: '', ref: 'main' } }]);
    // The preflight (OPTIONS) passes once per host and process: the faults below then meet the write itself.
    await vh.client().client.checkRepositoryWrite(41);
  });
  after(async () => {
    await vh.close();
  });
  beforeEach(() => {
    vh.faults.clear();
    vh.hang.length = 0;
    vh.log.length = 0;
  });

  async function failAndCheck(opts: { maxAttempts?: number; timeoutMs?: number } = {}): Promise<unknown> {
    const retries: RetryInfo[] = [];
    const { client } = vh.client({ ...opts, onRetry: (i) => retries.push(i) });
    const { result: err, output } = await capturingOutput(() => client.setRepository(41, settings).then(() => undefined, (e: unknown) => e));
    assert.ok(err instanceof ValohaiError, `expected a ValohaiError, got ${String(err)}`);
    for (const v of views(err)) assertClean(v, 'the thrown error');
    for (const r of retries) for (const v of views(r)) assertClean(v, 'a retry notice');
    assertClean(output, 'console output');
    // the key did go to the server: the checks above are not vacuous
    assert.ok(vh.log.some((r) => r.body.includes(BODY.slice(0, 40))));
    return err;
  }

  it('400 whose body echoes the key in a field, in detail and in non_field_errors', async () => {
    vh.faults.add({
      path: '/repositories/41/',
      status: 400,
      body: {
        detail: `Could not load key ${KEY}`,
        ssh_private_key: [`Invalid key: ${KEY.slice(0, 200)}`, { message: `line ${KEY.split('\n')[3]}`, code: 'invalid' }],
        non_field_errors: [KEY],
      },
    });
    const err = await failAndCheck();
    assert.ok(err instanceof ValohaiValidationError);
    assert.deepEqual(Object.keys(err.fields ?? {}).sort(), ['non_field_errors', 'ssh_private_key']);
    assert.match(err.message, /Invalid key/);
    assert.equal(vh.log.length, 1);
  });

  it('500 after retries, with a debug page that quotes the request body', async () => {
    const echoed = JSON.stringify({ ssh_private_key: KEY });
    vh.faults.add({ path: '/repositories/41/', status: 500, body: `<html><head><title>KeyError ${KEY.slice(32, 150)}</title></head><body><pre>${echoed}</pre></body></html>` });
    const err = await failAndCheck();
    assert.ok(err instanceof ValohaiError);
    assert.equal(err.status, 500);
    assert.equal(vh.log.length, 5);
  });

  for (const { how, text } of echoes(KEY)) {
    it(`400 whose body echoes the key ${how}`, async () => {
      vh.faults.add({ path: '/repositories/41/', status: 400, body: { ssh_private_key: [`Invalid key: ${text}`], detail: text } });
      const err = await failAndCheck();
      assert.ok(err instanceof ValohaiValidationError);
    });

    it(`500 whose page quotes the key ${how}`, async () => {
      vh.faults.add({ path: '/repositories/41/', status: 500, body: `KeyError while loading\n${text}\n` });
      await failAndCheck({ maxAttempts: 1 });
    });
  }

  it('a connection reset on every attempt', async () => {
    vh.faults.add({ path: '/repositories/41/', reset: true });
    const err = await failAndCheck({ maxAttempts: 3 });
    assert.ok(err instanceof ValohaiNetworkError);
    assert.equal(err.networkCode, 'ECONNRESET');
    assert.equal(vh.log.length, 3);
  });

  it('a timeout on every attempt', async () => {
    vh.hang.push(/\/repositories\/41\/$/);
    const err = await failAndCheck({ maxAttempts: 2, timeoutMs: 50 });
    assert.ok(err instanceof ValohaiNetworkError);
    assert.equal(err.networkCode, 'ETIMEDOUT');
  });

  it('a 200 that echoes the key is not read', async () => {
    vh.faults.add({ path: '/repositories/41/', status: 200, body: { id: 41, ssh_private_key: KEY } });
    const { client } = vh.client();
    const { result, output } = await capturingOutput(() => client.setRepository(41, settings));
    assert.equal(result, undefined);
    assertClean(output, 'console output');
  });
});
