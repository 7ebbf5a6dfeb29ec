/**
 * The CLI's state folder is trusted only when it is private, as the CLI ships (dist/cli.js) against the
 * stand-ins. Whoever could write a shared VALOHAI_BITBUCKET_STATE_DIR could otherwise forge what a run
 * believes. Each attack is checked by what the stand-ins hold afterwards (which keys are where, which
 * Valohai project holds a key):
 * - a folder others may write, or someone else's, is refused with exit 2 and the fix, and nothing changes;
 * - an audit resume file dated in the future, or written for another account, is ignored with a note,
 *   and every key on Bitbucket is listed;
 * - links planted where the CLI writes its temporary state file, or as connections.json, are never
 *   followed: the file they point to stays as it was;
 * - a record planted in connections.json never gives a repository to a Valohai project: rotate --all
 *   skips, and names, each record Bitbucket and Valohai do not bear out, and rotates the real ones.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '../../dev/stack';
import { trustSeed } from '../../dev/seed/index';
import { demoValohaiCredentials } from '../../dev/valohai/index';
import { accessKeyLabel } from '../../src/connect/index';
import { generateKeyPair } from '../../src/ssh/index';
import { assertInvariant, runCli } from '../support/e2e';

const WORKSPACE = 'acme';
const SUPER = 'inference-api';
const TARGETS = ['inference-api', 'datasets', 'training-lib', 'feature-store'];
const JEWELS = 'crown-jewels';
const STACK_TRACE = /\n\s+at .+:\d+:\d+\)?\n/;

interface AuditJson {
  keys: { repository: string; id: number }[];
}

interface RotateAllJson {
  connections: { repository: string; project: string; requests: number }[];
  rotated: { repository: string; outcome: string }[];
  skipped: { repository: string; project: string; reason: string }[];
}

describe('CLI state folder: trusted only when private', () => {
  let stack: Stack;
  let scratch: string;
  let projects = 0;

  /** A new Valohai project through Valohai's own API: it fetches nothing and holds no key. */
  async function newProject(prefix: string): Promise<{ id: string; name: string; repositoryId: number }> {
    const name = `${prefix}-${++projects}`;
    const res = await fetch(`${stack.valohai.apiUrl}/projects/`, {
      method: 'POST',
      headers: { Authorization: `Token ${demoValohaiCredentials.admin.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name, owner: 'acme' }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const body = (await res.json()) as { id: string; repository: { id: number } };
    return { id: body.id, name, repositoryId: body.repository.id };
  }

  /** A state folder as mkdtemp makes it: 0700, this user's. */
  const privateFolder = () => mkdtemp(join(scratch, 'state-'));
  const envWith = (dir: string) => ({ ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: dir, VALOHAI_BITBUCKET_RETRY_BUDGET_MS: '1000' });
  const keysOn = (slug: string) => stack.bitbucket.state.accessKeys(WORKSPACE, slug);
  const acmeRepos = () => stack.bitbucket.state.repos.filter((r) => r.workspace.slug === WORKSPACE).map((r) => r.slug);

  before(async () => {
    stack = await startStack({ seed: trustSeed, rateLimitPerHour: 1_000_000 });
    scratch = await mkdtemp(join(tmpdir(), 'vb-state-trust-'));
  });
  after(async () => {
    await stack?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test('a state folder others may write, or another user owns, is refused with exit 2 and the fix; nothing changes', async () => {
    const project = await newProject('refused');
    const shared = await privateFolder();
    await chmod(shared, 0o777);
    const before = TARGETS.map((slug) => keysOn(slug).length);
    const commands = [
      ['connect', `${WORKSPACE}/${SUPER}`, '--project', project.id, '--key-type', 'ed25519'],
      ['status', `${WORKSPACE}/${SUPER}`, '--project', project.id],
      ['audit', WORKSPACE],
      ['rotate', '--all', '--workspace', WORKSPACE, '--older-than', '0d'],
    ];
    for (const args of commands) {
      const r = await runCli(args, envWith(shared));
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`state folder ${shared} can be written by other users \\(mode 0777\\)`));
      assert.match(r.stderr, new RegExp(`chmod 700 ${shared}`));
      assert.doesNotMatch(r.stderr, STACK_TRACE);
    }
    assert.deepEqual(await readdir(shared), [], 'nothing was written into the shared folder');
    assert.deepEqual(TARGETS.map((slug) => keysOn(slug).length), before, 'no key was added on Bitbucket');
    assert.equal(stack.valohai.state.keyFor(project.repositoryId), undefined, 'Valohai was given no key');

    // Not there yet, inside a folder anyone may write (no sticky bit): it could be swapped after it is made.
    const open = await privateFolder();
    await chmod(open, 0o777);
    const inside = await runCli(['audit', WORKSPACE], envWith(join(open, 'state')));
    assert.equal(inside.code, 2, inside.stderr);
    assert.match(inside.stderr, new RegExp(`inside ${open}, which other users can write \\(mode 0777\\).*chmod go-w ${open}`));
    assert.deepEqual(await readdir(open), []);

    if (process.getuid?.() === 0) {
      // Tests run as root here, so another user's folder is made by handing it over.
      const theirs = await privateFolder();
      await chown(theirs, 4242, 4242);
      const r = await runCli(['audit', WORKSPACE], envWith(theirs));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /belongs to another user \(uid 4242\).*VALOHAI_BITBUCKET_STATE_DIR/);
    }

    // The usual modes are fine: made by the CLI (0700), or by hand with the default umask (0755).
    const usual = await privateFolder();
    await chmod(usual, 0o755);
    const ok = await runCli(['audit', WORKSPACE, '--json'], envWith(usual));
    assert.notEqual(ok.code, 2, ok.stderr);
    const fresh = await runCli(['audit', WORKSPACE, '--json'], envWith(join(await privateFolder(), 'new', 'state')));
    assert.notEqual(fresh.code, 2, fresh.stderr);
  });

  test('an audit resume file dated in the future, or written for another account, is ignored: every key is listed', async () => {
    const dir = await privateFolder();
    const env = envWith(dir);
    const laptop = await generateKeyPair({ type: 'ed25519', comment: 'laptop' });
    const ci = await generateKeyPair({ type: 'ed25519', comment: 'ci' });
    for (const [slug, key, label] of [
      ['scratch', laptop.publicKey, 'my laptop'],
      ['docs-site', ci.publicKey, 'CI'],
      [JEWELS, ci.publicKey, 'CI'],
    ] as const) {
      const repo = stack.bitbucket.state.findRepo(WORKSPACE, slug);
      assert.ok(repo, slug);
      stack.bitbucket.state.addAccessKey(repo, { key, label });
    }
    const everything = () =>
      acmeRepos()
        .flatMap((slug) => keysOn(slug).map((k) => `${WORKSPACE}/${slug}#${k.id}`))
        .sort();
    assert.ok(everything().length >= 3);
    const listed = (r: { stdout: string }) => (JSON.parse(r.stdout) as AuditJson).keys.map((k) => `${k.repository}#${k.id}`).sort();
    // What an attacker writes: every repository read, and none with a key.
    const nothingRead = Object.fromEntries(acmeRepos().map((slug) => [`${WORKSPACE}/${slug}`, []]));
    const planted = join(dir, `audit-${WORKSPACE}.json`);
    const account = `${stack.env.BITBUCKET_EMAIL} at ${stack.env.BITBUCKET_API_URL}`;

    await writeFile(planted, JSON.stringify({ workspace: WORKSPACE, unusedDays: 90, startedAt: '2999-01-01T00:00:00.000Z', account, read: nothingRead }));
    const future = await runCli(['audit', WORKSPACE, '--json'], env);
    assert.notEqual(future.code, 0, 'keys were found, so the audit does not say all is clean');
    assert.equal(future.code, 3, future.stderr);
    assert.match(future.stderr, /Not going on with the stopped audit in .*: it says it started in the future\. Reading everything\./);
    assert.doesNotMatch(future.stderr, /Going on with the audit/);
    assert.deepEqual(listed(future), everything(), 'every key on Bitbucket is listed');

    await writeFile(
      planted,
      JSON.stringify({ workspace: WORKSPACE, unusedDays: 90, startedAt: new Date().toISOString(), account: `mallory@acme.test at ${stack.env.BITBUCKET_API_URL}`, read: nothingRead }),
    );
    const other = await runCli(['audit', WORKSPACE, '--json'], env);
    assert.equal(other.code, 3, other.stderr);
    assert.match(other.stderr, /it was not written for the Bitbucket account of this token\. Reading everything\./);
    assert.deepEqual(listed(other), everything());

    // A resume file that is a link is not read through.
    const elsewhere = join(scratch, 'progress-elsewhere.json');
    await writeFile(elsewhere, JSON.stringify({ workspace: WORKSPACE, unusedDays: 90, startedAt: new Date().toISOString(), account, read: nothingRead }));
    await rm(planted, { force: true });
    await symlink(elsewhere, planted);
    const linked = await runCli(['audit', WORKSPACE, '--json'], env);
    assert.equal(linked.code, 2, linked.stderr);
    assert.match(linked.stderr, /audit-acme\.json in the state folder is a symbolic link.*Remove it/);
    assert.equal(linked.stdout, '');
  });

  test('links planted where the CLI writes its state are never followed: the file they point to is untouched', async () => {
    const project = await newProject('planted-links');
    const dir = await privateFolder();
    const env = envWith(dir);
    const victim = join(scratch, 'victim.txt');
    await writeFile(victim, 'not yours to write\n');
    // The old temporary name was connections.json.<pid>.tmp: a link for each pid the run may get.
    const last = Number((await readFile('/proc/sys/kernel/ns_last_pid', 'utf8').catch(() => '0')).trim());
    for (let pid = last + 1; pid <= last + 3000; pid++) await symlink(victim, join(dir, `connections.json.${pid}.tmp`));

    const r = await runCli(['connect', `${WORKSPACE}/${SUPER}`, '--project', project.id, '--key-type', 'ed25519', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await readFile(victim, 'utf8'), 'not yours to write\n', 'the linked file is untouched');
    const file = join(dir, 'connections.json');
    const s = await lstat(file);
    assert.ok(s.isFile() && !s.isSymbolicLink(), 'connections.json is a file of its own');
    assert.equal(s.mode & 0o777, 0o600);
    const records = Object.values(JSON.parse(await readFile(file, 'utf8')) as Record<string, { repository: string; projectId: string; publicKey: string }>);
    assert.deepEqual(records.map((x) => [x.repository, x.projectId]), [[`${WORKSPACE}/${SUPER}`, project.id]]);
    const held = await assertInvariant(stack, project.repositoryId, WORKSPACE, TARGETS);
    assert.equal(held, records[0]?.publicKey, 'the key recorded is the one Valohai holds and every repository has');

    // connections.json itself a link: refused before anything is read or written through it.
    const keysBefore = TARGETS.map((slug) => keysOn(slug).map((k) => k.id).join(','));
    await rm(file);
    await symlink(victim, file);
    const refused = await runCli(['disconnect', `${WORKSPACE}/${SUPER}`, '--project', project.id, '--yes'], env);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /connections\.json in the state folder is a symbolic link.*Remove it \(rm -r .*connections\.json\)/);
    assert.equal(await readFile(victim, 'utf8'), 'not yours to write\n');
    assert.deepEqual(TARGETS.map((slug) => keysOn(slug).map((k) => k.id).join(',')), keysBefore, 'no key was removed');
    assert.ok(stack.valohai.state.keyFor(project.repositoryId), 'Valohai keeps its key');
  });

  test('a record planted in connections.json never gives a repository to a Valohai project; real connections still rotate', async () => {
    const dir = await privateFolder();
    const env = envWith(dir);
    const genuine = await newProject('genuine');
    const made = await runCli(['connect', `${WORKSPACE}/${SUPER}`, '--project', genuine.id, '--key-type', 'ed25519', '--json'], env);
    assert.equal(made.code, 0, made.stderr);
    const oldKey = stack.valohai.state.keyFor(genuine.repositoryId);
    assert.ok(oldKey);

    const file = join(dir, 'connections.json');
    const records = JSON.parse(await readFile(file, 'utf8')) as Record<string, Record<string, unknown>>;
    const real = Object.values(records)[0] as { publicKey: string; targets: unknown[] };
    // The planter's project, and a second one pointed at the repository (a URL alone opens nothing).
    const planter = await newProject('planter');
    const copycat = await newProject('copycat');
    const copycatRepo = stack.valohai.state.findRepository(copycat.repositoryId);
    assert.ok(copycatRepo);
    copycatRepo.repository.url = `git@bitbucket.org:${WORKSPACE}/${SUPER}.git`;
    copycatRepo.repository.ref = 'main';
    const stranger = await generateKeyPair({ type: 'ed25519', comment: 'planted' });
    const plant = (repository: string, project: { id: string; name: string }, publicKey: string, targets: string[]) => {
      records[`${repository} ${project.id}`] = {
        repository,
        projectId: project.id,
        projectName: project.name,
        fingerprint: stranger.fingerprint,
        publicKey,
        keyType: 'ed25519',
        label: accessKeyLabel(project.name, project.id, new Date('2020-01-01')),
        createdAt: '2020-01-01T00:00:00.000Z',
        ref: 'main',
        targets: targets.map((t) => ({ repository: `${WORKSPACE}/${t}`, keyId: null })),
      };
    };
    plant(`${WORKSPACE}/${JEWELS}`, planter, stranger.publicKey, [JEWELS]);
    // The real connection's public key copied into a record for another project.
    plant(`${WORKSPACE}/${SUPER}`, copycat, real.publicKey, TARGETS);
    await writeFile(file, JSON.stringify(records));
    const keysBefore = keysOn(JEWELS).map((k) => k.id);

    const plan = await runCli(['rotate', '--all', '--workspace', WORKSPACE, '--older-than', '0d', '--dry-run', '--json'], env);
    const r = await runCli(['rotate', '--all', '--workspace', WORKSPACE, '--older-than', '0d', '--json'], env);

    assert.deepEqual(keysOn(JEWELS).map((k) => k.id), keysBefore, 'crown-jewels got no key');
    assert.ok(!keysOn(JEWELS).some((k) => k.key === stranger.publicKey));
    for (const p of [planter, copycat]) assert.equal(stack.valohai.state.keyFor(p.repositoryId), undefined, `${p.name} was given no key`);
    assert.equal(stack.valohai.state.findRepository(planter.repositoryId)?.repository.url ?? '', '', "the planter's project still fetches nothing");

    assert.equal(r.code, 1, 'skipped connections make the run say so');
    assert.doesNotMatch(r.stderr, STACK_TRACE);
    const out = JSON.parse(r.stdout) as RotateAllJson;
    const skipped = Object.fromEntries(out.skipped.map((s) => [`${s.repository} ${s.project}`, s.reason]));
    assert.match(skipped[`${WORKSPACE}/${JEWELS} ${planter.name}`] ?? '', /the key recorded for it is not among acme\/crown-jewels's access keys on Bitbucket/);
    assert.match(skipped[`${WORKSPACE}/${SUPER} ${copycat.name}`] ?? '', /labelled on Bitbucket for another Valohai project/);
    assert.match(r.stderr, new RegExp(`acme/crown-jewels -> ${planter.name}: skipped, not rotated: `));
    assert.deepEqual(out.rotated, [{ repository: `${WORKSPACE}/${SUPER}`, outcome: 'done' }], 'only the real connection is rotated');

    assert.equal(plan.code, 0, plan.stderr);
    const planned = JSON.parse(plan.stdout) as RotateAllJson;
    const cost = (repository: string, project: string) => planned.connections.find((c) => c.repository === repository && c.project === project)?.requests;
    assert.equal(cost(`${WORKSPACE}/${JEWELS}`, planter.name), 1 + 7, "the confirming key listing is counted beside each target's requests");
    assert.equal(cost(`${WORKSPACE}/${SUPER}`, genuine.name), 1 + 7 * real.targets.length);

    const newKey = stack.valohai.state.keyFor(genuine.repositoryId);
    assert.ok(newKey && newKey !== oldKey, 'the real connection has a new key');
    await assertInvariant(stack, genuine.repositoryId, WORKSPACE, TARGETS);
  });
});
