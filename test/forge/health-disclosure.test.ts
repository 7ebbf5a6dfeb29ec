// What a connection's health tells each viewer. The checks read keys with the stored token (the workspace
// admin's), so a health record can hold findings, key notices and changes about repositories the
// repository page's own admin may not see. Mallory administers acme/mallory-tools and cannot see
// acme/crown-jewels; Wes administers mallory-tools here too and may read crown-jewels; the workspace admin
// sees everything. Each sees crown-jewels named only if Bitbucket, asked as them, lets them see it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HealthEntry, HealthView, KeyNotice } from '../../src/forge/contract';
import { HIDDEN_REPOSITORY } from '../../src/forge/contract';
import { MAX_VISIBILITY_ASKS } from '../../src/forge/pages/health-disclosure';
import { recordHealth } from '../../src/forge/store/health-records';
import { demoBitbucketCredentials, trustCredentials as t, trustSeed, type Seed } from '../../dev/seed/index';
import { TOOLS, bb, startHarness, valohaiSeedWithTools, valueOf, vh, type Harness, type SentRequest, type Who, uuidOf } from './support/forge-fixture';

const MINE = `acme/${t.malloryRepo}`;
const JEWELS = `acme/${t.crownJewels}`;
const LABEL = 'Valohai prod-secrets 2024-01-01';
const FINGERPRINT = 'SHA256:Zm9yZWlnbmtleWZpbmdlcnByaW50b2Zjcm93bmpld2Vscw';
const OWN_FINGERPRINT = 'SHA256:b3duIHJlcG9zaXRvcnkga2V5IGZpbmdlcnByaW50IGhlcmU';

// Wes administers Mallory's repository as well, and may read the crown jewels.
const seed: Seed = {
  ...trustSeed,
  repoPermissions: [
    ...(trustSeed.repoPermissions ?? []),
    { workspace: 'acme', repo: t.malloryRepo, email: demoBitbucketCredentials.writer.email, permission: 'admin' },
    { workspace: 'acme', repo: t.crownJewels, email: demoBitbucketCredentials.writer.email, permission: 'read' },
  ],
};

let h: Harness;
const sent: SentRequest[] = [];

before(async () => {
  h = await startHarness({
    seed,
    record: (r) => sent.push(r),
    valohaiSeed: valohaiSeedWithTools,
  });
  valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
  valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  // Her repository only: its submodule repositories are none of the connection's.
  const { jobId } = valueOf(
    await h.call('startConnect', { projectId: TOOLS.id, ref: 'main', keyType: 'ed25519', submodules: false }, as('admin')),
  );
  await h.platform.idle();
  const job = valueOf(await h.call('getJob', { jobId }, as('admin')));
  assert.notEqual(job.status, 'failed', job.result?.error ?? job.error);
});
after(async () => {
  await h?.close();
});

function as(who: Who) {
  return { ...h.context(who), repositoryUuid: uuidOf(h, MINE) };
}

const at = () => h.platform.clock.now().toISOString();

function strayNotice(repository: string, keyId: number): KeyNotice {
  return { kind: 'stray', repository, keyId, label: LABEL, fingerprint: FINGERPRINT, ageDays: 40, lastUsed: null, connection: null, removable: false, seenAt: at() };
}

/** A check that found a stray key and a missing key on the crown jewels, and a key of her own unused. */
function entry(foreign: string[]): HealthEntry {
  return {
    at: at(),
    trigger: 'schedule',
    health: 'broken',
    keyAgeDays: 3,
    head: null,
    headSeen: null,
    findings: [
      ...foreign.map((repository) => ({
        severity: 'degraded' as const,
        code: 'stray-key' as const,
        repository,
        message: `${repository} holds access key 2 "${LABEL}" (${FINGERPRINT}), labelled like this app's but recorded by no connection. It was not used, trusted or removed.`,
        fix: `If nobody you know added it, remove it at https://bitbucket.org/${repository}/admin/access-keys/`,
      })),
      {
        severity: 'broken',
        code: 'key-missing',
        repository: JEWELS,
        message: `${JEWELS} no longer has the connection's access key, so Valohai cannot fetch it.`,
        fix: `Put it back at https://bitbucket.org/${JEWELS}/admin/access-keys/`,
      },
      {
        severity: 'degraded',
        code: 'unused-key',
        repository: MINE,
        message: `The connection's key on ${MINE} (access key 7, ${OWN_FINGERPRINT}) has never been used, over 90 days.`,
        fix: 'If Valohai no longer needs this repository, disconnect it or remove the submodule.',
      },
    ],
    changes: [{ kind: 'key-restored', repository: JEWELS, at: at(), detail: `key ${FINGERPRINT} put back` }],
  };
}

async function writeHealth(foreign: string[]): Promise<void> {
  await recordHealth(h.platform.store, h.workspaceId, uuidOf(h, MINE), entry(foreign), {
    keyNotices: foreign.map((r, i) => strayNotice(r, i + 2)),
    needsAdmin: [{ repository: JEWELS, reason: `the account that made the connection does not administer ${JEWELS}.` }],
  });
}

async function healthOf(who: Who): Promise<HealthView> {
  const page = valueOf(await h.call('getRepositoryPage', {}, as(who)));
  assert.equal(page.state, 'connected');
  assert.ok(page.connection);
  return page.connection.health;
}

function assertTellsNothingOf(health: HealthView, repository: string, who: string) {
  const text = JSON.stringify(health);
  for (const secret of [repository, t.crownJewels, LABEL, FINGERPRINT, '"keyId":2']) {
    assert.ok(!text.includes(secret), `${who}'s health shows ${secret}`);
  }
}

describe('health findings about other repositories', () => {
  test('Mallory sees "a repository you cannot see", with no name, label, fingerprint, key id or link; her own repository in full; the workspace admin sees all', async () => {
    await writeHealth([JEWELS]);
    const sentBefore = sent.length;
    const health = await healthOf('mallory');
    assertTellsNothingOf(health, JEWELS, 'Mallory');

    const findings = health.latest?.findings ?? [];
    assert.deepEqual(findings.map((f) => [f.code, f.repository ?? null]), [
      ['stray-key', null],
      ['key-missing', null],
      ['unused-key', MINE],
    ]);
    assert.match(findings[0]?.message ?? '', /^A repository you cannot see holds an access key labelled like this app's/);
    assert.match(findings[1]?.message ?? '', /^A repository you cannot see lacks the connection's key/);
    assert.match(findings[2]?.message ?? '', new RegExp(OWN_FINGERPRINT), 'a finding about her own repository is shown whole');
    assert.deepEqual(
      health.keyNotices.map((n) => [n.kind, n.repository, n.keyId, n.label, n.fingerprint, n.removable]),
      [['stray', HIDDEN_REPOSITORY, 0, '', '', false]],
    );
    assert.deepEqual(health.needsAdmin.map((n) => n.repository), [HIDDEN_REPOSITORY]);
    assert.deepEqual(health.recentChanges.map((c) => [c.kind, c.repository, c.detail ?? null]), [['key-restored', HIDDEN_REPOSITORY, null]]);

    // Asked as her, never with the stored token.
    const asks = sent.slice(sentBefore).filter((r) => r.path.includes('full_name'));
    assert.ok(asks.length >= 1);
    assert.ok(asks.every((r) => r.via === 'user'), JSON.stringify(asks));

    // The workspace admin sees every finding in full.
    const full = await healthOf('admin');
    const text = JSON.stringify(full);
    for (const shown of [JEWELS, LABEL, FINGERPRINT, '"keyId":2']) assert.ok(text.includes(shown), `the admin's health lacks ${shown}`);
    assert.deepEqual(full.keyNotices.map((n) => n.repository), [JEWELS]);
    assert.deepEqual(full.needsAdmin.map((n) => n.repository), [JEWELS]);
    assert.deepEqual(full.recentChanges.map((c) => c.repository), [JEWELS]);
  });

  test('a repository admin who may read the repository sees it in full, asked as them', async () => {
    const health = await healthOf('writer');
    assert.deepEqual(health.keyNotices.map((n) => [n.repository, n.label, n.fingerprint]), [[JEWELS, LABEL, FINGERPRINT]]);
    assert.equal(health.latest?.findings[0]?.repository, JEWELS);
    // What Mallory was shown a moment ago is not what Wes gets, nor the other way round: nothing is kept between viewers.
    assertTellsNothingOf(await healthOf('mallory'), JEWELS, 'Mallory after Wes');
  });

  test(`at most ${MAX_VISIBILITY_ASKS} repositories are asked about per page load; the rest are hidden`, async () => {
    const many = Array.from({ length: MAX_VISIBILITY_ASKS + 2 }, (_, i) => `acme/elsewhere-${i}`);
    // The crown jewels come last, beyond the bound: hidden even from Wes, who may read them.
    await writeHealth([...many.slice(0, MAX_VISIBILITY_ASKS), JEWELS, ...many.slice(MAX_VISIBILITY_ASKS)]);
    const sentBefore = sent.length;
    const health = await healthOf('writer');
    const asks = sent.slice(sentBefore).filter((r) => r.path.includes('full_name'));
    assert.equal(asks.length, MAX_VISIBILITY_ASKS);
    assert.ok(asks.every((r) => r.via === 'user'));
    const stray = (health.latest?.findings ?? []).filter((f) => f.code === 'stray-key');
    assert.equal(stray.length, MAX_VISIBILITY_ASKS + 3);
    assert.ok(stray.every((f) => f.repository === undefined), 'repositories that do not exist or were not asked about are hidden');
    assertTellsNothingOf(health, JEWELS, 'Wes, beyond the bound');
  });
});
