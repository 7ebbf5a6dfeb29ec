// The access-key audit as queue work over a 500-repository workspace: a whole run and what it costs,
// a step that dies mid-batch, the token's hour that runs out (Bitbucket's 429, the app's own ledger), and
// who may ask.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFleetSeed, type FleetFacts } from '../../dev/seed/index';
import type { FleetAuditView } from '../../src/forge/contract';
import { AUDIT_LEASE_MS } from '../../src/forge/fleet/audit';
import { HOUR_MS } from '../../src/forge/fleet/budget';
import { ALL_TOKENS, assertNoSecrets, bb, errorOf, PROJECTS, spendTokenHour, startHarness, valueOf, vh, type Harness, type SentRequest } from './support/forge-fixture';

async function setUp(options: { rateLimitPerHour?: number; record?: (r: SentRequest) => void } = {}): Promise<{ h: Harness; facts: FleetFacts }> {
  const built = await buildFleetSeed();
  const h = await startHarness({ built, shareClock: true, ...options });
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  return { h, facts: built.facts };
}

async function audit(h: Harness): Promise<FleetAuditView> {
  const reply = valueOf(await h.call('getAudit', { pageSize: 0 }, h.context('admin')));
  assert.ok(reply.audit, 'an audit exists');
  return reply.audit;
}

/** Every access key on the workspace's repositories, as the emulator holds them. */
function seededKeys(h: Harness): number {
  const ws = h.stack.bitbucket.state.findWorkspace('acme');
  return h.stack.bitbucket.state.repos.filter((r) => r.workspace === ws).reduce((n, r) => n + h.stack.bitbucket.state.listAccessKeys(r).length, 0);
}

describe('the audit of 500 repositories', () => {
  let h: Harness;
  let facts: FleetFacts;
  const sent: SentRequest[] = [];

  before(async () => {
    ({ h, facts } = await setUp({ record: (r) => sent.push(r) }));
    // One recorded connection, so keys that belong to one are told apart from the rest.
    const { jobId } = valueOf(
      await h.call('startConnect', { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true }, h.context('admin', 'inference-api')),
    );
    await h.platform.idle();
    assert.equal(valueOf(await h.call('getJob', { jobId }, h.context('admin', 'inference-api'))).status, 'done');
    // The connect spent part of the hour; the audit starts in a fresh one.
    h.advance(HOUR_MS + 60_000);
  });
  after(async () => {
    await h?.close();
  });

  test('reads every repository once with the token, lists as the app, and finds each kind of key', async () => {
    const from = sent.length;
    const started = valueOf(await h.call('startAudit', {}, h.context('admin')));
    assert.equal(started.status, 'running');
    await h.platform.idle();
    const done = await audit(h);
    assert.equal(done.status, 'done', done.progress);
    assert.equal(done.repositoriesRead, facts.repositories.length);
    assert.equal(done.repositoriesTotal, 500);
    assert.deepEqual(done.unreadable, []);
    assert.equal(done.keysFound, seededKeys(h));

    const token = sent.slice(from).filter((r) => r.via === 'token');
    assert.equal(token.length, 500, 'one token request per repository');
    assert.ok(token.every((r) => r.method === 'GET' && /\/deploy-keys\?pagelen=100$/.test(r.path)), 'the token only lists keys');
    assert.deepEqual(new Set(token.map((r) => r.path)).size, 500, 'no repository read twice');
    const listing = sent.slice(from).filter((r) => r.via === 'app' && /^\/repositories\/[^/]+\?/.test(r.path));
    assert.equal(listing.length, 5, 'the listing, 100 a page, as the app');
    assert.deepEqual(done.requests, { token: 500, app: 5 });
    // One queue message per batch of 25.
    assert.equal(h.platform.enqueued.filter((m) => m.type === 'fleet-audit').length, 20);

    const kinds = (k: string) => facts.keys.filter((f) => f.kind === k).length;
    assert.equal(done.findings.weak, kinds('weak-rsa') + kinds('dsa'));
    // The seeded lookalikes were used 30 days ago, on repositories with no connection of their project:
    // as the CLI's audit, the app's takes them for another connection's keys in use (one made with the
    // CLI, whose records it cannot read), which are never advised away as lookalikes.
    assert.equal(done.findings.lookalike, 0);
    assert.equal(done.findings.shared, kinds('shared'));
    assert.equal(done.findings.unused, kinds('old') + kinds('dsa'));

    const weak = valueOf(await h.call('getAudit', { finding: 'weak', pageSize: 200 }, h.context('admin'))).audit;
    assert.ok(weak);
    assert.equal(weak.matchingKeys, done.findings.weak);
    const rsa = weak.keys.find((k) => k.type === 'ssh-rsa');
    assert.equal(rsa?.bits, 2048);
    assert.ok(weak.keys.some((k) => k.type === 'ssh-dss'));
    const every: FleetAuditView['keys'] = [];
    for (let page = 1; every.length < done.keysFound; page++) {
      const part = valueOf(await h.call('getAudit', { pageSize: 200, page }, h.context('admin'))).audit;
      assert.ok(part?.keys.length, `page ${page} of the keys`);
      every.push(...part.keys);
    }
    const inUse = every.filter((k) => k.inUseBy);
    assert.equal(inUse.length, kinds('lookalike'));
    assert.ok(inUse.every((k) => k.inUseBy === 'app' && k.connection === null && !k.findings.includes('lookalike')));
    assert.ok(facts.keys.some((f) => /\u202e/.test(f.label)), 'the seed hides a bidi override in a label');
    assert.ok(inUse.every((k) => !/[\u202a-\u202e\u2066-\u2069]/.test(k.label)), 'no bidi control from a label reaches the page');

    const all = valueOf(await h.call('getAudit', { pageSize: 200, page: 1 }, h.context('admin'))).audit;
    assert.ok(all);
    const connected = all.keys.filter((k) => k.connection);
    assert.ok(connected.length >= 1, 'the connected repository’s key is named');
    assert.ok(connected.every((k) => k.connection?.projectName === PROJECTS.inference.name && k.connection.current && !k.findings.includes('lookalike')));
    const page2 = valueOf(await h.call('getAudit', { pageSize: 50, page: 2 }, h.context('admin'))).audit;
    assert.equal(page2?.keys.length, 50);
    assert.deepEqual(page2?.keys[0], all.keys[50]);
  });

  test('exports CSV (one row per key, through the CLI’s writer) and JSON', async () => {
    const csv = valueOf(await h.call('exportAudit', { format: 'csv' }, h.context('admin')));
    const done = await audit(h);
    assert.equal(csv.complete, true);
    assert.match(csv.filename, /^access-keys-acme-\d{4}-\d{2}-\d{2}\.csv$/);
    const lines = csv.text.trim().split('\n');
    assert.equal(lines[0], 'repository,id,label,type,bits,fingerprint,createdOn,ageDays,lastUsed,connection,findings');
    assert.equal(lines.length - 1, done.keysFound);
    const json = JSON.parse(valueOf(await h.call('exportAudit', { format: 'json' }, h.context('admin'))).text) as { keys: unknown[]; repositories: number; complete: boolean };
    assert.equal(json.keys.length, done.keysFound);
    assert.equal(json.repositories, 500);
    assert.equal(json.complete, true);
    assert.ok(errorOf(await h.call('exportAudit', { format: 'xlsx' }, h.context('admin'))).message.includes('format'));
  });

  test('a step that dies mid-batch is resumed after its lease, and its batch read again, once', async () => {
    h.advance(HOUR_MS + 60_000);
    const first = await audit(h);
    const store = h.platform.store;
    const set = store.set.bind(store);
    let writes = 0;
    // The fourth batch dies after its requests, before anything is written: as a function timeout would.
    store.set = async (key, value, options) => {
      if (key.startsWith('fleetauditpart:') && ++writes === 4) throw new Error('function timed out');
      return set(key, value, options);
    };
    const from = sent.length;
    try {
      valueOf(await h.call('startAudit', {}, h.context('admin')));
      await h.platform.idle();
    } finally {
      store.set = set;
    }
    const stalled = await audit(h);
    assert.equal(stalled.status, 'running');
    assert.equal(stalled.repositoriesRead, 75, 'three batches kept');
    assert.ok(Object.values(stalled.findings).some((n) => n > 0), 'findings so far are counted while it runs');
    await h.platform.idle();
    assert.equal((await audit(h)).repositoriesRead, 75, 'nothing resumes while the lease may still be held');

    h.advance(AUDIT_LEASE_MS + 1000);
    await audit(h); // the page's poll sees the lapsed lease and wakes the audit
    await h.platform.idle();
    const done = await audit(h);
    assert.equal(done.status, 'done', done.progress);
    assert.equal(done.repositoriesRead, 500);
    assert.equal(done.keysFound, first.keysFound, 'no key counted twice');
    assert.deepEqual(done.findings, first.findings);
    assert.equal(sent.slice(from).filter((r) => r.via === 'token').length, 525, 'only the dead batch was read again');
    assert.ok(h.platform.log.lines.some((l) => l.message === 'audit stalled; resumed'));
  });

  test("a 429 (as Bitbucket sends it: plain text, no Retry-After) keeps what was read, and resumes after the ledger's first back-off", async () => {
    h.advance(HOUR_MS + 60_000);
    const fault = h.stack.bitbucket.faults.add({ method: 'GET', path: '/deploy-keys$', after: 40, times: 5, status: 429, body: 'Rate limit for this resource has been exceeded.' });
    valueOf(await h.call('startAudit', {}, h.context('admin')));
    await h.platform.idle();
    h.stack.bitbucket.faults.remove(fault);
    const waiting = await audit(h);
    assert.equal(waiting.status, 'waiting', waiting.progress);
    assert.ok(waiting.repositoriesRead >= 25 && waiting.repositoriesRead <= 40, `${waiting.repositoriesRead} read`);
    assert.ok(waiting.resumesAt);
    const wait = Date.parse(waiting.resumesAt) - h.platform.clock.now().getTime();
    assert.ok(wait > 50_000 && wait <= 60_000, `a first 429 waits a minute, not the hour (${wait} ms)`);
    h.advance(61_000);
    h.platform.runDue();
    await h.platform.idle();
    const done = await audit(h);
    assert.equal(done.status, 'done', done.progress);
    assert.equal(done.repositoriesRead, 500);
    assert.deepEqual(done.unreadable, [], 'a 429 never makes a repository "unreadable"');
  });

  test('nothing stored, logged or answered holds a token', () => {
    const texts: [string, string][] = [
      ...[...h.platform.store.dump()].map(([k, v]): [string, string] => [`record ${k}`, v]),
      ...h.platform.log.lines.map((l, i): [string, string] => [`log ${i}`, JSON.stringify(l)]),
      ...h.replies.map((r, i): [string, string] => [`reply ${i}`, r]),
    ];
    assert.ok(assertNoSecrets(texts, h.privateKeys, ALL_TOKENS) > 20);
  });

  test('only workspace admins: a repository admin, a reader and an outsider are refused every audit resolver', async () => {
    assert.ok(facts.writerAdministers.length > 0, 'the writer administers some repositories');
    for (const who of ['writer', 'reader', 'outsider'] as const) {
      for (const [name, payload] of [['startAudit', {}], ['getAudit', {}], ['exportAudit', { format: 'csv' }]] as const) {
        const err = errorOf(await h.call(name, payload, h.context(who)));
        assert.equal(err.code, 'not-admin', `${who} ${name}: ${err.message}`);
      }
    }
    const err = errorOf(await h.call('startAudit', { workspace: 'umbrella' }, h.context('admin')));
    assert.equal(err.code, 'invalid-payload', 'a payload never names the workspace');
  });
});

describe("the audit within the stored token's hour", () => {
  let h: Harness;

  before(async () => {
    // Bitbucket lets the token's user send 300 requests an hour: fewer than the app's share for automatic
    // work (600), so the audit meets Bitbucket's 429 before its own count stops it.
    ({ h } = await setUp({ rateLimitPerHour: 300 }));
  });
  after(async () => {
    await h?.close();
  });

  test("meets Bitbucket's 429, backs off a minute, then longer, and still reads all 500 with nothing lost", async () => {
    const started = h.stack.bitbucket.requests.length;
    // The token's 429s (the listing goes as the app: here the same account, so it meets them too).
    const tooMany = () => h.stack.bitbucket.requests.slice(started).filter((r) => r.status === 429 && /\/deploy-keys/.test(r.path)).length;
    valueOf(await h.call('startAudit', {}, h.context('admin')));
    await h.platform.idle();
    const waiting = await audit(h);
    assert.equal(waiting.status, 'waiting', waiting.progress);
    assert.ok(waiting.repositoriesRead >= 275 && waiting.repositoriesRead <= 300, `${waiting.repositoriesRead} read`);
    assert.ok(tooMany() >= 1 && tooMany() <= 5, `${tooMany()} answered 429: one batch's requests in flight at most`);
    assert.match(waiting.progress, /^\d+ of 500 repositories read, \d+ access keys found; resumes at about \d\d:\d\d UTC when the stored token's hour has room\.$/);
    assert.ok(waiting.resumesAt);
    const wait = Date.parse(waiting.resumesAt) - h.platform.clock.now().getTime();
    assert.ok(wait > 50_000 && wait <= 60_000, `the first back-off is a minute, not the hour (${wait} ms)`);
    assert.equal(h.platform.delayedMessages.filter((m) => m.message.type === 'fleet-audit').length, 1, 'one delayed message carries it on');

    // Bitbucket's hour rolls about an hour after the 300 were sent: until then each try meets a 429 and
    // waits (the token's back-off: 2, 4, 8, then 15 minutes; the listing, sent as the app, has its own
    // limit, which this emulator shares with the token: it waits 15 minutes), never a whole hour at once.
    const firstTooMany = h.platform.clock.now().getTime();
    let longest = 0;
    for (let hop = 0; hop < 12 && (await audit(h)).status === 'waiting'; hop++) {
      const view = await audit(h);
      assert.ok(view.repositoriesRead >= waiting.repositoriesRead, 'nothing read is lost');
      const until = Date.parse(view.resumesAt ?? '') - h.platform.clock.now().getTime();
      longest = Math.max(longest, until);
      h.advance(until + 1000);
      h.platform.runDue();
      await h.platform.idle();
    }
    assert.ok(longest <= 900_000, `no wait longer than 15 minutes (${longest} ms)`);
    assert.ok(h.platform.clock.now().getTime() - firstTooMany < HOUR_MS + 20 * 60_000, 'through soon after Bitbucket lets the token in again');
    const done = await audit(h);
    assert.equal(done.status, 'done', done.progress);
    assert.equal(done.repositoriesRead, 500);
    assert.deepEqual(done.unreadable, [], 'a 429 never makes a repository "unreadable"');
    assert.equal(done.keysFound, seededKeys(h), 'every key found once');
    const read200 = h.stack.bitbucket.requests.slice(started).filter((r) => r.status === 200 && /\/deploy-keys/.test(r.path));
    assert.equal(new Set(read200.map((r) => r.path)).size, 500, 'every repository read');
    assert.equal(read200.length, 500, 'none read twice');
    assert.equal(done.requests.token, 500 + tooMany(), 'the audit counts every request it sent, the refused ones too');
  });

});

describe("the audit within the app's own count of the token's hour", () => {
  let h: Harness;

  before(async () => {
    ({ h } = await setUp());
  });
  after(async () => {
    await h?.close();
  });

  test("waits for the ledger without meeting a 429, says when it resumes, and does", async () => {
    // Other automatic work of the token's user spent 590 of the 600 this hour, in this minute.
    const spentAt = h.platform.clock.now().getTime();
    await spendTokenHour(h, { unattended: 590 });
    const started = h.stack.bitbucket.requests.length;
    const repositoryReads = () => h.stack.bitbucket.requests.slice(started).filter((r) => /\/deploy-keys/.test(r.path)).length;
    valueOf(await h.call('startAudit', {}, h.context('admin')));
    await h.platform.idle();
    const waiting = await audit(h);
    assert.equal(waiting.status, 'waiting', waiting.progress);
    assert.equal(waiting.repositoriesRead, 0, 'a batch of 25 does not fit in the 10 left');
    assert.equal(repositoryReads(), 0, 'nothing was sent');
    assert.ok(waiting.resumesAt);
    const resumes = new Date(waiting.resumesAt);
    // The minute the 590 were spent in leaves the rolling hour an hour later.
    assert.equal(resumes.getTime(), Math.floor(spentAt / 60_000) * 60_000 + HOUR_MS);
    assert.ok(waiting.progress.endsWith(`resumes at about ${resumes.toISOString().slice(11, 16)} UTC when the stored token's hour has room.`), waiting.progress);

    // Forge delays a message 900 s at most: the wait is a chain of hops that send nothing.
    for (let i = 0; i < 3; i++) {
      h.advance(900_000);
      h.platform.runDue();
      await h.platform.idle();
      assert.equal((await audit(h)).status, 'waiting');
    }
    assert.equal(repositoryReads(), 0, 'waiting costs no request');
    for (let hop = 0; hop < 4 && (await audit(h)).status === 'waiting'; hop++) {
      h.advance(900_000);
      h.platform.runDue();
      await h.platform.idle();
    }
    const done = await audit(h);
    assert.equal(done.status, 'done', done.progress);
    assert.equal(done.repositoriesRead, 500);
    assert.equal(done.requests.token, 500);
    assert.equal(h.stack.bitbucket.requests.slice(started).filter((r) => r.status === 429).length, 0, 'no 429 on the way');
  });
});
