/**
 * `valohai-bitbucket audit <workspace>` as it ships, against the stand-ins: every access key of the
 * workspace with its owner and findings (a connection's keys are clean; a weak RSA 2048 key, one key on
 * two repositories outside any connection, a label like this app's with no record, a key unused for
 * 200 days are each named), CSV that a spreadsheet cannot run, and a person without admin rights told
 * which repositories could not be read.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBitbucketCredentials } from '../../dev/seed/index';
import { generateKeyPair } from '../../src/ssh/index';
import { runCli } from '../support/e2e';
import { Lane, TARGETS, WORKSPACE } from '../support/fault-matrix';

interface AuditJson {
  repositories: number;
  keys: { repository: string; id: number; label: string; type: string; bits: number | null; findings: string[]; connection: { projectName: string } | null }[];
  unreadable: { repository: string; error: string }[];
}

describe('CLI audit: every access key of a workspace', () => {
  const lane = new Lane();
  const add = (slug: string, key: string, label: string) => {
    const state = lane.stack.bitbucket.state;
    const repo = state.findRepo(WORKSPACE, slug);
    assert.ok(repo, slug);
    return state.addAccessKey(repo, { key, label });
  };

  before(async () => {
    await lane.start();
    await lane.newProject();
    await lane.ensureConnected();
    const weak = await generateKeyPair({ type: 'rsa', bits: 2048, comment: 'old-ci' });
    add('scratch', weak.publicKey, 'old CI');
    const shared = await generateKeyPair({ type: 'ed25519', comment: 'laptop' });
    add('docs-site', shared.publicKey, 'my laptop');
    add('research-notebooks', shared.publicKey, 'my laptop');
    const lookalike = await generateKeyPair({ type: 'ed25519', comment: 'x' });
    add('ml-models', lookalike.publicKey, 'Valohai inference-api 2025-01-01 [vh:0123456789ab]');
    const stale = await generateKeyPair({ type: 'ed25519', comment: 'stale' });
    const entry = add('ml-models', stale.publicKey, '=HYPERLINK("https://example.test")');
    entry.createdOn = new Date(Date.now() - 200 * 86_400_000);
  });
  after(() => lane.close());

  test('each key with its owner and findings; exit 3 when something needs a look', async () => {
    const r = await runCli(['audit', WORKSPACE, '--json'], lane.env);
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout) as AuditJson;
    assert.ok(doc.repositories >= 8);
    assert.deepEqual(doc.unreadable, []);
    const on = (slug: string) => doc.keys.filter((k) => k.repository === `${WORKSPACE}/${slug}`);
    for (const slug of TARGETS) {
      const [k, ...more] = on(slug);
      assert.deepEqual(more, [], `one key on ${slug}`);
      assert.equal(k?.connection?.projectName, lane.project.name, `${slug}: the connection's key is named as its`);
      assert.deepEqual(k?.findings, [], `${slug}: a connection's key used today needs no look`);
    }
    assert.deepEqual(on('scratch').map((k) => [k.type, k.bits, k.findings]), [['ssh-rsa', 2048, ['weak']]]);
    assert.deepEqual(on('docs-site').map((k) => k.findings), [['shared']]);
    assert.deepEqual(on('research-notebooks').map((k) => k.findings), [['shared']]);
    const mine = on('ml-models');
    assert.deepEqual(mine.find((k) => k.label.startsWith('Valohai'))?.findings, ['lookalike']);
    assert.deepEqual(mine.find((k) => k.label.startsWith('='))?.findings, ['unused']);

    const text = await runCli(['audit', WORKSPACE], lane.env);
    assert.equal(text.code, 3);
    assert.match(text.stdout, /^acme\/scratch\s+\d+\s+ssh-rsa 2048 .*\sweak$/m);
    assert.match(text.stdout, /labelled like this app's, not recorded/);
  });

  test('CSV: one row per key, and a label a spreadsheet would run is defused', async () => {
    const r = await runCli(['audit', WORKSPACE, '--csv'], lane.env);
    assert.equal(r.code, 3, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'repository,id,label,type,bits,fingerprint,createdOn,ageDays,lastUsed,connection,findings');
    assert.equal(lines.length, 1 + TARGETS.length + 5);
    const risky = lines.find((l) => l.includes('HYPERLINK'));
    assert.ok(risky);
    assert.match(risky, /,"'=HYPERLINK\(""https:\/\/example\.test""\)",/);
    assert.equal((await runCli(['audit', WORKSPACE, '--csv', '--json'], lane.env)).code, 2);
    assert.equal((await runCli(['audit', 'not a workspace'], lane.env)).code, 2);
  });

  test('stopped by the rate limit it keeps what it read; run again, it reads only the rest and ends as a whole audit would', async () => {
    const whole = JSON.parse((await runCli(['audit', WORKSPACE, '--json', '--restart'], lane.env)).stdout) as AuditJson;
    const listings = () => lane.stack.bitbucket.requests.filter((r) => r.method === 'GET' && /\/deploy-keys\/?$/.test(r.path.split('?')[0] ?? '')).length;
    const rule = lane.stack.bitbucket.faults.add({ method: 'GET', path: '/deploy-keys/?$', after: 3, status: 429, body: 'Rate limit for this resource has been exceeded', headers: { 'retry-after': '120' } });
    let stopped;
    try {
      // --no-wait: it stops at the 429 instead of waiting for Bitbucket and going on.
      stopped = await runCli(['audit', WORKSPACE, '--json', '--no-wait'], lane.env);
    } finally {
      lane.stack.bitbucket.faults.remove(rule);
    }
    assert.equal(stopped.code, 1, stopped.stderr);
    assert.equal(stopped.stdout, '', 'nothing half-read is printed as if it were the audit');
    assert.match(stopped.stderr, new RegExp(`Reading the access keys of ${whole.repositories} of ${whole.repositories} repositories\\. This audit will send about ${whole.repositories + 1} Bitbucket requests`));
    const after = /Bitbucket's rate limit \(429, too many requests\) stopped the audit after (\d+) of (\d+) repositories; what was read is kept/.exec(stopped.stderr);
    assert.ok(after, stopped.stderr);
    const read = Number(after[1]);
    assert.ok(read >= 3 && read < whole.repositories);
    assert.match(stopped.stderr, /Run the same command again after \d\d:\d\d UTC to go on/);

    const before = listings();
    const resumed = await runCli(['audit', WORKSPACE, '--json'], lane.env);
    assert.equal(resumed.code, 3, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`Going on with the audit started at .*: ${read} repositories already read`));
    assert.equal(listings() - before, whole.repositories - read, 'only the repositories not read before are read');
    const doc = JSON.parse(resumed.stdout) as AuditJson;
    const ids = (d: AuditJson) => d.keys.map((k) => `${k.repository}#${k.id}:${k.findings.join('+')}`).sort();
    assert.deepEqual(ids(doc), ids(whole), 'the same keys and findings as an audit in one go');
    // Finished: the next run starts afresh.
    const again = await runCli(['audit', WORKSPACE, '--json'], lane.env);
    assert.doesNotMatch(again.stderr, /Going on with/);
  });

  test('without admin rights the keys cannot be read: exit 1, each repository named', async () => {
    const w = demoBitbucketCredentials.writer;
    const r = await runCli(['audit', WORKSPACE, '--json'], { ...lane.env, BITBUCKET_EMAIL: w.email, BITBUCKET_API_TOKEN: w.token });
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout) as AuditJson;
    assert.ok(doc.unreadable.length > 0);
    assert.deepEqual(doc.keys, [], 'nothing read is shown as if it were');
    for (const u of doc.unreadable) assert.match(r.stderr, new RegExp(`not read: ${u.repository.replace('/', '\\/')}:`));
  });
});
