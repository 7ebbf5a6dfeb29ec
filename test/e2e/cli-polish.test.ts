/**
 * The CLI's manners, through the built CLI: its help names every environment variable it reads and an
 * example of each command; every settings problem is said in one run; --project comes from the one
 * connection of a repository recorded here; a repository may be given as its URL; progress on a
 * terminal is one line per step; the audit is an aligned table with totals.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cliEntry, cliStackForSuite, runCli } from '../support/e2e';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const REPO = 'acme/ml-models';

/** Every NAME the CLI's sources read as `env.NAME` or `process.env.NAME`. */
function environmentRead(): string[] {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1] as string);
    }
  };
  walk(join(root, 'src/cli'));
  return [...names].sort();
}

const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('CLI manners', () => {
  const world = cliStackForSuite('vb-polish-');

  test('--help names every environment variable the CLI reads, and an example of every command', async () => {
    const help = await runCli(['--help'], {});
    assert.equal(help.code, 0, help.stderr);
    const names = environmentRead();
    assert.ok(names.length >= 9, names.join(' '));
    for (const name of names) assert.match(help.stdout, new RegExp(`^  ${name}\\s`, 'm'), name);
    const commands = [...help.stdout.matchAll(/^ {2}([a-z-]+) \[options\]/gm)].map((m) => m[1] as string);
    assert.ok(commands.length >= 8, commands.join(' '));
    for (const command of commands) {
      assert.match(help.stdout, new RegExp(`^  \\$ valohai-bitbucket ${command} `, 'm'), `an example of ${command}`);
      const own = await runCli([command, '--help'], {});
      assert.match(own.stdout, new RegExp(`Example:\\n  \\$ valohai-bitbucket ${command} `), `${command} --help`);
    }
  });

  test('every missing or wrong setting is said in one run', async () => {
    const r = await runCli(['status', REPO, '--project', REPO], { VALOHAI_BITBUCKET_STATE_DIR: world.stateDir, VALOHAI_BITBUCKET_TIMEOUT_MS: 'soon' });
    assert.equal(r.code, 2, r.stderr);
    for (const name of ['BITBUCKET_EMAIL', 'BITBUCKET_API_TOKEN', 'VALOHAI_TOKEN', 'VALOHAI_BITBUCKET_TIMEOUT_MS']) assert.match(r.stderr, new RegExp(name), name);
    assert.match(r.stderr, /3 settings need fixing/);
  });

  test('a repository given as its page, a page under it or a clone URL; another host refused by name', async () => {
    for (const arg of [
      'https://bitbucket.org/acme/ml-models',
      'https://bitbucket.org/acme/ml-models/src/main/',
      'git@bitbucket.org:acme/ml-models.git',
      'ssh://git@bitbucket.org/acme/ml-models.git',
    ]) {
      const r = await runCli(['connect', arg, '--project', REPO, '--dry-run', '--json'], world.env);
      assert.equal(r.code, 0, `${arg}: ${r.stderr}`);
      assert.equal((JSON.parse(r.stdout) as { repository: string }).repository, REPO, arg);
    }
    const other = await runCli(['status', 'https://github.com/acme/ml-models', '--project', REPO], world.env);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /on github\.com, not Bitbucket Cloud/);
  });

  test('--project comes from the one connection of the repository recorded here', async () => {
    const none = await runCli(['status', REPO], world.env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /status needs --project: no connection of acme\/ml-models is recorded here/);
    const made = await runCli(['connect', REPO, '--project', REPO, '--key-type', 'ed25519'], world.env);
    assert.equal(made.code, 0, made.stderr);
    const r = await runCli(['status', 'https://bitbucket.org/acme/ml-models', '--json'], world.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { connected: boolean }).connected, true);
    assert.match(r.stderr, /Valohai project: ml-models .*the one connection of acme\/ml-models recorded here/);
  });

  test('on a terminal each step is printed once', { skip: !hasScript && 'script (util-linux) is not installed' }, async () => {
    const command = [process.execPath, cliEntry(), 'connect', REPO, '--project', REPO, '--dry-run'].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const r = await run('script', ['-qfec', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', HOME: world.stateDir, TERM: 'xterm', ...world.env }, encoding: 'utf8' });
    // eslint-disable-next-line no-control-regex
    const lines = r.stdout.replace(/\x1b\[[0-9;]*m/g, '').split(/\r?\n/);
    const steps = lines.filter((l) => /^[✓✗↺…-] /.test(l));
    assert.ok(steps.some((l) => l.startsWith('✓ Reading acme/ml-models')), r.stdout);
    assert.deepEqual(steps.filter((l) => l.startsWith('… ')), [], 'no separate line for a step starting');
    assert.equal(new Set(steps.map((l) => l.slice(2))).size, steps.length, `a step printed twice:\n${steps.join('\n')}`);
  });

  test('audit prints an aligned table with totals', async () => {
    const r = await runCli(['audit', 'acme'], world.env);
    assert.ok(r.code === 0 || r.code === 3, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    const header = lines.find((l) => l.startsWith('REPOSITORY'));
    assert.ok(header, r.stdout);
    const rows = lines.slice(lines.indexOf(header) + 1, -1);
    assert.ok(rows.length >= 4, r.stdout);
    for (const column of ['KEY', 'TYPE', 'FINGERPRINT', 'LAST USED', 'CONNECTION']) {
      const at = header.indexOf(column);
      for (const row of rows) assert.match(row.slice(at - 2, at + 1), /^ {2}\S$/, `${column} lines up in: ${row}`);
    }
    assert.match(lines.at(-1) ?? '', /^Total: \d+ access keys on \d+ repositories; 4 of connections recorded here, 0 in use by other connections, \d+ to look at/);
    const json = await runCli(['audit', 'acme', '--json'], world.env);
    assert.ok(Array.isArray((JSON.parse(json.stdout) as { keys: unknown[] }).keys), 'JSON as before');
  });
});
