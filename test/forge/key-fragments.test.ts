// A Valohai that quotes back the first 15 characters of each line of the private key it was given (as
// written, JSON-escaped, URL-encoded, cut into short lines, or the key's bytes as hex), in its refusal
// of the key or in a fetch's errors: no piece of a key's secret part reaches a job record, a health
// record, a reply, a log line or a queue message, through a connect, a rotation (by hand and automatic)
// or the manual mode.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobView, StartConnectPayload } from '../../src/forge/contract';
import { loadHealth } from '../../src/forge/store/health-records';
import { bareUuid, keys } from '../../src/forge/store/keys';
import type { JobRecord } from '../../src/forge/store/records';
import { ECHO_KINDS, startEchoingValohai, type EchoingValohai, type EchoKind } from '../support/key-echo';
import { secretsIn } from '../support/secret-scan';
import type { ReplyOf } from './support/reply';
import { ALL_TOKENS, assertNoSecrets, bb, PROJECTS, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

const DAY = 86_400_000;
const REPO = 'inference-api';
const choices: StartConnectPayload = { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true };

let h: Harness;
let valohai: EchoingValohai;

before(async () => {
  h = await startHarness();
  valohai = await startEchoingValohai(h.stack.valohai.url);
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  // Every Valohai client the backend makes talks to the quoting stand-in in front of the emulator.
  const make = h.platform.makeValohai.bind(h.platform);
  h.platform.makeValohai = (connection, limits) => make({ ...connection, host: valohai.url }, limits);
});
after(async () => {
  await h?.close();
  await valohai?.close();
});

/** Starts a job, lets it run, and returns what the page is told and what is stored. */
async function run(start: () => Promise<ReplyOf<'startConnect'>>, slug = REPO): Promise<{ view: JobView; record: JobRecord }> {
  const { jobId } = valueOf(await start());
  await h.platform.idle();
  const view = valueOf(await h.call('getJob', { jobId }, h.context('admin', slug)));
  const record = await h.platform.store.get<JobRecord>(keys.job(jobId));
  assert.ok(record);
  return { view, record };
}

/** Fails naming the key when `text` holds any piece of the secret part of the last key Valohai was given. */
function assertNoPieceOfLastKey(text: string, where: string): void {
  const key = valohai.keys[valohai.keys.length - 1];
  assert.ok(key, 'Valohai was given a key');
  assert.deepEqual(secretsIn(text, [{ name: 'the private key', value: key, key: true }]), [], `${where}:\n${text.slice(0, 2000)}`);
}

/** An unverified connect keeps its connection: the next case starts from none. */
async function disconnectIfConnected(): Promise<void> {
  const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
  if (!page.connection) return;
  const { view } = await run(() => h.call('startDisconnect', {}, h.context('admin', REPO)));
  assert.equal(view.status, 'done', view.error);
}

function quoting(kind: EchoKind | undefined, where: EchoingValohai['where']): void {
  valohai.echo = kind;
  valohai.where = where;
}

describe('a connect whose key Valohai refuses, quoting pieces of it', () => {
  for (const kind of ECHO_KINDS) {
    test(`as ${kind}: the job fails naming Valohai's refusal, and no piece of the key is stored or shown`, async () => {
      quoting(kind, 'setRepository');
      const echoed = valohai.echoed;
      const { view, record } = await run(() => h.call('startConnect', choices, h.context('admin', REPO)));
      assert.equal(valohai.echoed, echoed + 1, 'Valohai quoted the key');
      assert.equal(view.status, 'failed');
      assert.match(`${view.error ?? ''} ${view.result?.error ?? ''}`, /Valohai rejected/);
      assertNoPieceOfLastKey(JSON.stringify(view), 'the job as the page gets it');
      assertNoPieceOfLastKey(JSON.stringify(record), 'the job record');
    });
  }

  test('an RSA key quoted line by line: no piece of it is stored either', async () => {
    quoting('line heads', 'setRepository');
    const { view, record } = await run(() => h.call('startConnect', { ...choices, keyType: 'rsa' }, h.context('admin', REPO)));
    assert.equal(view.status, 'failed');
    assert.match(valohai.keys[valohai.keys.length - 1] ?? '', /BEGIN RSA PRIVATE KEY/);
    assertNoPieceOfLastKey(JSON.stringify(record), 'the job record');
  });
});

describe("a connect whose fetch errors quote pieces of the key", () => {
  for (const kind of ['line heads', 'hex of the key bytes'] as const) {
    test(`as ${kind}: the job's errors keep git's words, without the pieces`, async () => {
      quoting(kind, 'fetch');
      const echoed = valohai.echoed;
      const { view, record } = await run(() => h.call('startConnect', choices, h.context('admin', REPO)));
      assert.equal(valohai.echoed, echoed + 1, 'the fetch quoted the key');
      assert.notEqual(view.status, 'done');
      assert.match(JSON.stringify(record), /fetch worker: unusable deploy key/, 'the fetch error is kept');
      assertNoPieceOfLastKey(JSON.stringify(view), 'the job as the page gets it');
      assertNoPieceOfLastKey(JSON.stringify(record), 'the job record');
      quoting(undefined, 'fetch');
      await disconnectIfConnected();
    });
  }
});

describe('a rotation of a working connection', () => {
  before(async () => {
    quoting(undefined, 'setRepository');
    await disconnectIfConnected();
    const { view } = await run(() => h.call('startConnect', choices, h.context('admin', REPO)));
    assert.equal(view.status, 'done', view.result?.error ?? view.error);
  });

  for (const where of ['setRepository', 'fetch'] as const) {
    test(`by hand, Valohai quoting the new key ${where === 'fetch' ? 'in its fetch errors' : 'in its refusal'}: nothing stored holds a piece of it`, async () => {
      quoting('line heads', where);
      const echoed = valohai.echoed;
      const { view, record } = await run(() => h.call('startRotate', {}, h.context('admin', REPO)));
      assert.equal(valohai.echoed, echoed + 1);
      assert.notEqual(view.status, 'done');
      assertNoPieceOfLastKey(JSON.stringify(view), 'the rotation as the page gets it');
      assertNoPieceOfLastKey(JSON.stringify(record), 'the rotation record');
      quoting(undefined, where);
      const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
      assert.ok(page.connection, 'the connection is still there');
    });
  }

  for (const where of ['setRepository', 'fetch'] as const) {
    test(`automatic, by key age, Valohai quoting the new key ${where === 'fetch' ? 'in its fetch errors' : 'in its refusal'}: the health record names the failure without the pieces`, async () => {
      valueOf(
        await h.call(
          'saveHealthPolicy',
          { drift: 'alert', unneededKeys: 'offer', autoRotate: { enabled: true, everyDays: 180, perDay: 5 }, unusedDays: 90 },
          h.context('admin'),
        ),
      );
      h.advance(181 * DAY);
      quoting('hex of the key bytes', where);
      const echoed = valohai.echoed;
      h.platform.holdQueue();
      const planned = (await h.backend.onSchedule())?.workspaces.find((w) => w.workspaceUuid === bareUuid(h.workspaceId, 'workspace'));
      assert.ok(planned?.rotations.includes(`acme/${REPO}`), 'the key is old enough to rotate');
      h.platform.releaseQueue();
      await h.platform.idle();
      assert.equal(valohai.echoed, echoed + 1);
      const health = await loadHealth(h.platform.store, h.workspaceId, h.repoUuid(REPO));
      assert.ok(
        health.entries.some((e) => e.findings.some((f) => f.code === 'auto-rotate-failed')),
        `the failed rotation is on record: ${JSON.stringify(health.entries.at(-1))}`,
      );
      assertNoPieceOfLastKey(JSON.stringify(health), 'the health record');
      const page = valueOf(await h.call('getRepositoryPage', {}, h.context('admin', REPO)));
      assertNoPieceOfLastKey(JSON.stringify(page), 'the repository page');
      quoting(undefined, where);
    });
  }
});

describe('the manual mode', () => {
  test("its key, refused by Valohai with pieces quoted, leaves no piece in the job", async () => {
    valueOf(await h.call('clearCredentials', { which: 'bitbucket' }, h.context('admin')));
    quoting('line heads', 'setRepository');
    const slug = 'ml-models';
    const { view, record } = await run(() => h.call('startManualConnect', { ...choices, projectId: PROJECTS.training.id }, h.context('admin', slug)), slug);
    assert.equal(view.status, 'failed');
    assertNoPieceOfLastKey(JSON.stringify(view), 'the manual job as the page gets it');
    assertNoPieceOfLastKey(JSON.stringify(record), 'the manual job record');
    quoting(undefined, 'setRepository');
  });
});

describe('everything stored and shown', () => {
  test('holds no piece of any key made, and no token', async () => {
    await h.platform.idle();
    assert.ok(valohai.keys.length >= ECHO_KINDS.length + 4, 'keys were made and given to Valohai');
    const texts: [string, string][] = [
      ...h.replies.map((r, i): [string, string] => [`reply ${i}`, r]),
      ...[...h.platform.store.dump()].map(([k, v]): [string, string] => [`record ${k}`, v]),
      ...h.platform.log.lines.map((l, i): [string, string] => [`log ${i}`, JSON.stringify(l)]),
      ...h.platform.enqueued.map((m, i): [string, string] => [`queue ${i}`, JSON.stringify(m)]),
    ];
    assertNoSecrets(texts, h.privateKeys, ALL_TOKENS);
  });
});
