/**
 * One truth per connection, through the built CLI against the stand-ins:
 * - `--dry-run` on connect, rotate, disconnect and check --repair prints the plan and changes nothing
 *   (every access key, Valohai's key, its fetches and the state folder as they were); sync refuses it.
 * - A connection made in the app (its key labelled by the app, its record kept by the app) stops the
 *   CLI's connect, which names it; --take-over replaces Valohai's key and says what it replaced. While
 *   Bitbucket saw the app's key used after the CLI's, audit and status call it in use by another
 *   connection, never a stray to remove; once the CLI's key is the one used, it is a stray again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, labelMaker } from '../../src/connect/index';
import { FileConnectionStore } from '../../src/cli/state';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { assertInvariant, runCli } from '../support/e2e';
import { Lane, TARGETS, WORKSPACE } from '../support/fault-matrix';

const REPO = `${WORKSPACE}/inference-api`;

describe('CLI: one truth per connection', () => {
  const lane = new Lane();
  let appDir: string;
  const project = () => `acme/${lane.project.name}`;

  /** Everything a dry run must leave as it was: each target's keys, Valohai's key and fetches, the state file. */
  const world = async () => ({
    keys: TARGETS.map((slug) => lane.stack.bitbucket.state.accessKeys(WORKSPACE, slug)),
    labels: TARGETS.map((slug) => {
      const repo = lane.stack.bitbucket.state.findRepo(WORKSPACE, slug);
      return repo ? lane.stack.bitbucket.state.listAccessKeys(repo).map((k) => k.label) : [];
    }),
    valohaiKey: lane.stack.valohai.state.keyFor(lane.project.repositoryId) ?? null,
    fetches: lane.stack.valohai.state.fetches(lane.project.id).length,
    state: await readFile(join(lane.stateDir, 'connections.json'), 'utf8').catch(() => ''),
  });

  before(async () => {
    await lane.start();
    appDir = await mkdtemp(join(tmpdir(), 'vb-app-records-'));
  });
  after(async () => {
    await lane.close();
    await rm(appDir, { recursive: true, force: true });
  });

  describe('--dry-run changes nothing', () => {
    before(async () => {
      await lane.newProject();
      const r = await runCli(['connect', REPO, '--project', project(), '--key-type', 'ed25519', '--json'], lane.env);
      assert.equal(r.code, 0, r.stderr);
    });

    test("the CLI's keys carry its own label", () => {
      for (const slug of TARGETS) {
        const repo = lane.stack.bitbucket.state.findRepo(WORKSPACE, slug);
        assert.ok(repo);
        const labels = lane.stack.bitbucket.state.listAccessKeys(repo).map((k) => k.label);
        assert.equal(labels.length, 1, slug);
        assert.match(labels[0] ?? '', / cli \[vh:[0-9a-z]{12}\]$/);
        assert.equal(labelMaker(labels[0] ?? ''), 'cli');
      }
    });

    test('rotate <repository> --dry-run names the keys it would add and remove, and rotates nothing', async () => {
      const before = await world();
      const r = await runCli(['rotate', REPO, '--project', project(), '--dry-run'], lane.env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Dry run: nothing was changed/);
      for (const slug of TARGETS) {
        const [key] = lane.stack.bitbucket.state.accessKeys(WORKSPACE, slug);
        assert.match(r.stdout, new RegExp(`add a new Ed25519 key to ${WORKSPACE}/${slug}\\n`));
        assert.match(r.stdout, new RegExp(`remove access key ${key?.id} from ${WORKSPACE}/${slug}\\n`));
      }
      assert.deepEqual(await world(), before, 'a dry run changes no key, no Valohai setting, no record');

      const json = await runCli(['rotate', REPO, '--project', project(), '--dry-run', '--json'], lane.env);
      assert.equal(json.code, 0, json.stderr);
      const plan = JSON.parse(json.stdout) as { dryRun: boolean; accessKeys: { status: string }[] };
      assert.equal(plan.dryRun, true);
      assert.deepEqual(
        plan.accessKeys.map((k) => k.status).sort(),
        [...TARGETS.map(() => 'planned'), ...TARGETS.map(() => 'remove-planned')].sort(),
      );
      assert.deepEqual(await world(), before);
    });

    test('connect --dry-run on a connected repository keeps the key and changes nothing', async () => {
      const before = await world();
      const r = await runCli(['connect', REPO, '--project', project(), '--dry-run', '--json'], lane.env);
      assert.equal(r.code, 0, r.stderr);
      const plan = JSON.parse(r.stdout) as { accessKeys: { status: string }[] };
      assert.deepEqual(plan.accessKeys.map((k) => k.status), TARGETS.map(() => 'present'));
      assert.deepEqual(await world(), before);
    });

    test('disconnect --dry-run needs no --yes, names what it would remove and removes nothing', async () => {
      const before = await world();
      const r = await runCli(['disconnect', REPO, '--project', project(), '--dry-run'], lane.env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /remove the private key from Valohai/);
      for (const slug of TARGETS) assert.match(r.stdout, new RegExp(`remove access key \\d+ from ${WORKSPACE}/${slug}\\n`));
      assert.deepEqual(await world(), before);
    });

    test('check --repair --dry-run names the repository it would mend, asks Valohai nothing and mends nothing', async () => {
      const repo = lane.stack.bitbucket.state.findRepo(WORKSPACE, 'datasets');
      assert.ok(repo);
      const [gone] = lane.stack.bitbucket.state.listAccessKeys(repo);
      assert.ok(gone);
      lane.stack.bitbucket.state.deleteAccessKey(gone);
      const before = await world();
      const r = await runCli(['check', REPO, '--project', project(), '--repair', '--dry-run', '--json'], lane.env);
      assert.equal(r.code, 1, r.stderr);
      const out = JSON.parse(r.stdout) as { repairPlanned: string[]; repaired: unknown[]; fetch?: unknown };
      assert.deepEqual(out.repairPlanned, [`${WORKSPACE}/datasets`]);
      assert.deepEqual(out.repaired, []);
      assert.equal(out.fetch, undefined, 'Valohai is not asked to fetch');
      assert.deepEqual(await world(), before);
      const mended = await runCli(['check', REPO, '--project', project(), '--repair'], lane.env);
      assert.equal(mended.code, 0, mended.stderr);
    });

    test('sync --dry-run is refused, not ignored', async () => {
      const before = await world();
      const r = await runCli(['sync', '--project', project(), '--dry-run'], lane.env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /sync has no dry run/);
      assert.deepEqual(await world(), before);
    });

    test('disconnect says it is verified once Bitbucket and Valohai confirmed it', async () => {
      const r = await runCli(['disconnect', REPO, '--project', project(), '--yes', '--json'], lane.env);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { verified: boolean; accessKeys: { status: string }[] };
      assert.equal(out.verified, true);
      assert.deepEqual(out.accessKeys.map((k) => k.status), TARGETS.map(() => 'deleted'));
      for (const slug of TARGETS) assert.deepEqual(lane.stack.bitbucket.state.accessKeys(WORKSPACE, slug), []);
      assert.equal(lane.stack.valohai.state.keyFor(lane.project.repositoryId), undefined);
    });
  });

  describe('a connection made in the app', () => {
    let appKeys: number[];

    before(async () => {
      await lane.newProject();
      // The app: the same engine, its own label and its own records, none of which the CLI can read.
      const app = { ...lane.deps(), store: new FileConnectionStore(appDir) };
      const made = await connect(app, { workspace: WORKSPACE, repo: 'inference-api', project: lane.project.id, submodules: true, keyType: 'ed25519' });
      assert.equal(made.outcome, 'done', made.error);
      appKeys = made.accessKeys.map((k) => k.id as number);
    });

    test("connect refuses to replace it, names it, and changes nothing", async () => {
      const before = await world();
      const r = await runCli(['connect', REPO, '--project', project(), '--key-type', 'ed25519'], lane.env);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /already connected to Valohai project .* by a connection this CLI does not record/);
      assert.match(r.stderr, new RegExp(`access key ${appKeys[0]} .* made in the app`));
      assert.match(r.stderr, /--take-over/);
      assert.deepEqual(await world(), before);
      const dry = await runCli(['connect', REPO, '--project', project(), '--dry-run'], lane.env);
      assert.equal(dry.code, 1, 'a dry run says so too');
      assert.deepEqual(await world(), before);
    });

    test('audit and status call its used key in use by another connection, not a stray', async () => {
      const audit = await runCli(['audit', WORKSPACE, '--json'], lane.env);
      const doc = JSON.parse(audit.stdout) as { keys: { id: number; inUseBy?: string; findings: string[] }[] };
      for (const id of appKeys) {
        const k = doc.keys.find((x) => x.id === id);
        assert.equal(k?.inUseBy, 'app', `key ${id}`);
        assert.deepEqual(k?.findings, [], `key ${id} is not advised away`);
      }
      const text = await runCli(['audit', WORKSPACE], lane.env);
      assert.match(text.stdout, /in use by another connection \(made in the app\)/);
      const status = await runCli(['status', REPO, '--project', project()], lane.env);
      assert.match(status.stdout, /in use by another connection \(made in the app\)/);
      assert.doesNotMatch(status.stdout, /remove it on/, 'no advice to remove a key in use');
    });

    test('--take-over --dry-run says what it would replace; --take-over replaces it and says so', async () => {
      const before = await world();
      const dry = await runCli(['connect', REPO, '--project', project(), '--take-over', '--dry-run'], lane.env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /--take-over would replace the key Valohai project .* holds for the other connection/);
      assert.deepEqual(await world(), before);

      const r = await runCli(['connect', REPO, '--project', project(), '--key-type', 'ed25519', '--take-over', '--json'], lane.env);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { warnings: { code: string; message: string }[] };
      assert.ok(out.warnings.some((w) => w.code === 'other-connection' && /Took over/.test(w.message)), r.stdout);
      assert.notEqual(lane.stack.valohai.state.keyFor(lane.project.repositoryId), before.valohaiKey);
      await assertInvariant(lane.stack, lane.project.repositoryId, WORKSPACE, TARGETS);
      for (const slug of TARGETS) {
        const labels = lane.stack.bitbucket.state.accessKeys(WORKSPACE, slug).length;
        assert.equal(labels, 2, `${slug}: the app's key stays beside the CLI's`);
      }
    });

    test("once Valohai fetches with the CLI's key, the app's key is no longer in use", async () => {
      const doc = JSON.parse((await runCli(['audit', WORKSPACE, '--json'], lane.env)).stdout) as { keys: { id: number; inUseBy?: string; findings: string[] }[] };
      for (const id of appKeys) {
        const k = doc.keys.find((x) => x.id === id);
        assert.equal(k?.inUseBy, undefined, `key ${id}`);
        assert.ok(k?.findings.includes('lookalike'), `key ${id}: ${k?.findings.join(',')}`);
      }
      // And connect again keeps the CLI's connection: the app's key, unused since, stops nothing.
      const again = await runCli(['connect', REPO, '--project', project(), '--json'], lane.env);
      assert.equal(again.code, 0, again.stderr);
    });
  });

  test('the demo project id is not the one under test (the lane makes its own)', () => {
    assert.notEqual(lane.project.id, demoValohaiCredentials.project.id);
  });
});
