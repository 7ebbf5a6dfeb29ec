/**
 * `valohai-bitbucket check` as it ships (dist/cli.js) against the stand-ins: a healthy connection
 * exits 0; a key removed by hand from a submodule repository exits 1 naming it, and `--repair` puts the
 * very same public key back, after which a real git fetch over SSH with Valohai's key reaches every
 * repository again; a key labelled like the app's that no connection recorded exits 3 (degraded); a
 * person who only has write access cannot repair anything, and nothing changes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoBitbucketCredentials } from '../../dev/seed/index';
import { generateKeyPair } from '../../src/ssh/index';
import { assertInvariant, runCli } from '../support/e2e';
import { Lane, TARGETS, WORKSPACE } from '../support/fault-matrix';

interface CheckJson {
  health: string;
  findings: { severity: string; code: string; repository?: string; message: string }[];
  repaired: { repository: string; keyId: number }[];
  fetch?: { headSeen: boolean; errors: string[] };
  headCommit: string;
}

describe('CLI check: the health of a connection, and --repair', () => {
  const lane = new Lane();
  const args = () => ['check', `${WORKSPACE}/${TARGETS[0]}`, '--project', `acme/${lane.project.name}`];
  const checkJson = async (extra: string[] = [], env = lane.env) => {
    const r = await runCli([...args(), ...extra, '--json'], env);
    let doc: CheckJson;
    try {
      doc = JSON.parse(r.stdout) as CheckJson;
    } catch {
      assert.fail(`check --json printed no JSON document (exit ${r.code})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    }
    return { ...r, doc };
  };
  const removeByHand = (slug: string) => {
    const state = lane.stack.bitbucket.state;
    const repo = state.findRepo(WORKSPACE, slug);
    assert.ok(repo);
    for (const k of state.listAccessKeys(repo)) state.deleteAccessKey(k);
  };

  before(async () => {
    await lane.start();
    await lane.newProject();
    await lane.ensureConnected();
  });
  after(() => lane.close());

  test('a working connection is healthy: exit 0, Valohai fetched and saw the head commit', async () => {
    const { code, doc, stderr } = await checkJson();
    assert.equal(code, 0, stderr);
    assert.equal(doc.health, 'healthy', JSON.stringify(doc.findings));
    assert.deepEqual(doc.findings, []);
    assert.equal(doc.fetch?.headSeen, true);
    assert.deepEqual(
      Object.keys(doc).filter((k) => k === 'listings' || k === 'verdicts'),
      [],
      'the report leaves out the key listings and verdicts the engine hands its callers',
    );
    const plain = await runCli(args(), lane.env);
    assert.equal(plain.code, 0);
    assert.match(plain.stdout, /Health:\s+healthy/);
    assert.match(plain.stdout, /Key age:\s+today/);
  });

  test('a key removed by hand is broken (exit 1, the repository named); --repair puts the same key back', async () => {
    const held = lane.stack.valohai.state.keyFor(lane.project.repositoryId);
    assert.ok(held);
    const before = lane.keys('datasets')[0]?.key;
    assert.ok(before);
    removeByHand('datasets');

    const broken = await checkJson();
    assert.equal(broken.code, 1, broken.stderr);
    assert.equal(broken.doc.health, 'broken');
    const missing = broken.doc.findings.find((f) => f.code === 'key-missing');
    assert.equal(missing?.repository, `${WORKSPACE}/datasets`);
    assert.match(missing?.message ?? '', /--repair/);
    assert.deepEqual(lane.keys('datasets'), [], 'check alone changes nothing');
    await assert.rejects(assertInvariant(lane.stack, lane.project.repositoryId, WORKSPACE, TARGETS), /datasets lacks Valohai's key/);

    const repaired = await checkJson(['--repair']);
    assert.equal(repaired.code, 0, `${repaired.stderr}\n${JSON.stringify(repaired.doc.findings)}`);
    assert.deepEqual(repaired.doc.repaired.map((r) => r.repository), [`${WORKSPACE}/datasets`]);
    assert.equal(repaired.doc.health, 'healthy');
    assert.equal(repaired.doc.fetch?.headSeen, true);
    assert.deepEqual(lane.keys('datasets').map((k) => k.key), [before], 'the very same public key, not a new one');
    assert.equal(lane.stack.valohai.state.keyFor(lane.project.repositoryId), held, "Valohai's key is untouched");
    // A real git fetch over SSH with Valohai's key reaches every repository again.
    await assertInvariant(lane.stack, lane.project.repositoryId, WORKSPACE, TARGETS);
    assert.equal((await checkJson()).code, 0, 'and the next check is healthy');
  });

  test("a key labelled like the app's that no connection recorded is degraded (exit 3), reported and left alone", async () => {
    const label = lane.stack.bitbucket.state.listAccessKeys(lane.stack.bitbucket.state.findRepo(WORKSPACE, 'training-lib')!)[0]?.label;
    assert.ok(label);
    const stray = await generateKeyPair({ type: 'ed25519', comment: 'stray' });
    lane.stack.bitbucket.state.addAccessKey(lane.stack.bitbucket.state.findRepo(WORKSPACE, 'training-lib')!, { key: stray.publicKey, label });
    try {
      const { code, doc } = await checkJson(['--repair']);
      assert.equal(code, 3);
      assert.equal(doc.health, 'degraded');
      assert.ok(doc.findings.some((f) => f.code === 'lookalike-key' && f.severity === 'degraded'), JSON.stringify(doc.findings));
      assert.deepEqual(doc.repaired, []);
      assert.equal(lane.keys('training-lib').length, 2, '--repair never removes a key');
    } finally {
      const state = lane.stack.bitbucket.state;
      const repo = state.findRepo(WORKSPACE, 'training-lib')!;
      for (const k of state.listAccessKeys(repo)) if (k.key === stray.publicKey.split(' ').slice(0, 2).join(' ')) state.deleteAccessKey(k);
    }
  });

  test('someone with write access only cannot repair: exit 1 with the reason, and no key is added', async () => {
    removeByHand('feature-store');
    const writer = demoBitbucketCredentials.writer;
    const { code, doc, stderr } = await checkJson(['--repair'], { ...lane.env, BITBUCKET_EMAIL: writer.email, BITBUCKET_API_TOKEN: writer.token });
    assert.equal(code, 1, stderr);
    assert.equal(doc.health, 'broken');
    assert.deepEqual(doc.repaired, []);
    assert.deepEqual(doc.findings.map((f) => f.code), ['keys-unreadable'], 'one cause, said once');
    assert.match(doc.findings[0]?.message ?? '', /Administrator access/);
    assert.deepEqual(lane.keys('feature-store'), [], 'nothing was put back');
    // The admin's own repair still works.
    const admin = await checkJson(['--repair']);
    assert.equal(admin.code, 0, JSON.stringify(admin.doc.findings));
    assert.equal(lane.keys('feature-store').length, 1);
  });
});
