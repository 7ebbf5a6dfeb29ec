/**
 * The CLI as a package: `npm run pack:cli` makes a tarball of runtime files only, with the LICENSE and
 * no install-time script, `npm install -g` of that tarball into an empty prefix installs the runtime
 * dependencies only and warns of nothing, and the installed
 * `valohai-bitbucket` works from there (help, keygen, and a connect dry run against the stand-ins),
 * far from this checkout's node_modules.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startStack, type Stack } from '../../dev/stack';
import { cliEntry, type CliRun } from '../support/e2e';
import { sshKeygenOk, typeAndBase64 } from '../ssh/ssh-keygen';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;

interface PackageJson {
  name: string;
  version: string;
  bin: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/**
 * npm run from inside `npm test` inherits the parent's npm_* settings; the ones that would point
 * this install elsewhere, or make it a dry run, are dropped. The cache and registry settings stay.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package|lifecycle)_/i.test(k) || /^npm_config_(prefix|global|location|dry_run|json|ignore_scripts)$/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/** Bare module names dist/cli.js imports (node: built-ins aside): what it needs installed beside it. */
function bareImports(code: string): string[] {
  const names = new Set<string>();
  for (const m of code.matchAll(/(?:^|\n)\s*import\s[^'"]*?from\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|\brequire\(\s*["']([^"']+)["']\s*\)/g)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? '';
    if (spec.startsWith('node:') || spec.startsWith('.') || spec.startsWith('/')) continue;
    const parts = spec.split('/');
    names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec));
  }
  return [...names].sort();
}

/** Every package name under a node_modules folder, nested ones included. */
async function installedPackages(nodeModules: string, out = new Set<string>()): Promise<Set<string>> {
  let entries: string[];
  try {
    entries = await readdir(nodeModules);
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    const names = entry.startsWith('@') ? (await readdir(join(nodeModules, entry))).map((n) => `${entry}/${n}`) : [entry];
    for (const name of names) {
      out.add(name);
      await installedPackages(join(nodeModules, name, 'node_modules'), out);
    }
  }
  return out;
}

describe('the CLI ships as an npm package', () => {
  let work: string;
  let tarball: string;
  let prefix: string;
  let bin: string;
  let stack: Stack | undefined;
  let packedFiles: string[] = [];
  let installOutput = '';

  const installed = async (args: string[], env: Record<string, string> = {}): Promise<CliRun> => {
    try {
      const r = await run(bin, args, { cwd: work, env: { PATH: process.env.PATH ?? '', HOME: work, ...env }, encoding: 'utf8' });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };

  before(async () => {
    cliEntry(); // dist/cli.js is built by `npm test`: the pack script packs that build as it is
    work = await mkdtemp(join(tmpdir(), 'vb-pack-'));
    prefix = join(work, 'prefix');
    const packed = await run(process.execPath, [join(root, 'scripts/pack-cli.mjs'), '--destination', work, '--no-build'], { cwd: root, env: npmEnv(), encoding: 'utf8' });
    tarball = packed.stdout.trim().split('\n').pop() ?? '';
    const listed = await run('tar', ['tzf', tarball], { encoding: 'utf8' });
    packedFiles = listed.stdout.trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
    // Offline when npm's cache holds the dependencies (it does after `npm ci`), the registry otherwise.
    const install = await run(npm, ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: work,
      env: npmEnv(),
      encoding: 'utf8',
    });
    installOutput = `${install.stdout}${install.stderr}`;
    bin = join(prefix, 'bin', 'valohai-bitbucket');
  });
  after(async () => {
    await stack?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the tarball holds the bundled CLI, the README, the LICENSE and package.json, nothing else', () => {
    assert.deepEqual(packedFiles, ['LICENSE', 'README.md', 'dist/cli.js', 'package.json']);
    assert.equal(pkg.bin['valohai-bitbucket'], 'dist/cli.js');
  });

  test('the LICENSE is the MIT licence package.json names', async () => {
    assert.equal((pkg as PackageJson & { license?: string }).license, 'MIT');
    const text = await readFile(join(prefix, 'lib', 'node_modules', pkg.name, 'LICENSE'), 'utf8');
    assert.match(text, /^MIT License\n\nCopyright \(c\) 2026 The valohai-bitbucket authors\n/);
    assert.match(text, /Permission is hereby granted, free of charge/);
  });

  test('the shipped package.json runs nothing at install, and the install warns of nothing', async () => {
    const shipped = JSON.parse(await readFile(join(prefix, 'lib', 'node_modules', pkg.name, 'package.json'), 'utf8')) as PackageJson & { scripts?: Record<string, string> };
    assert.equal(shipped.scripts, undefined, 'no scripts: prepare would build from sources the tarball does not hold');
    assert.equal(shipped.devDependencies, undefined);
    assert.deepEqual(shipped.dependencies, pkg.dependencies);
    assert.doesNotMatch(installOutput, /warn/i, installOutput);
  });

  test('its dependencies are exactly what the bundled CLI imports', async () => {
    const code = await readFile(join(root, 'dist/cli.js'), 'utf8');
    const imports = bareImports(code);
    assert.ok(imports.length > 0, 'no imports found: the pattern no longer reads esbuild output');
    assert.deepEqual(Object.keys(pkg.dependencies ?? {}).sort(), imports);
  });

  test('the global install brings runtime dependencies only, no development tool', async () => {
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    // A name is development-only when every copy of it in the lock is (a dev tool may nest its own
    // copy of a runtime dependency, such as commander).
    const copies = new Map<string, boolean[]>();
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path.startsWith('node_modules/')) continue;
      const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
      copies.set(name, [...(copies.get(name) ?? []), entry.dev === true]);
    }
    const devOnly = new Set([...copies].filter(([, dev]) => dev.every(Boolean)).map(([name]) => name));
    const home = join(prefix, 'lib', 'node_modules', pkg.name);
    const names = await installedPackages(join(home, 'node_modules'));
    for (const dep of Object.keys(pkg.dependencies ?? {})) assert.ok(names.has(dep), `${dep} was not installed`);
    const dev = [...names].filter((n) => devOnly.has(n));
    assert.deepEqual(dev, [], 'development-only packages were installed with the CLI');
    assert.deepEqual((await readdir(home)).sort(), ['LICENSE', 'README.md', 'dist', 'node_modules', 'package.json']);
  });

  test('valohai-bitbucket --help and --version run from the install', async () => {
    const help = await installed(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['keygen', 'connect', 'status', 'rotate', 'disconnect', 'sync']) assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
    const version = await installed(['--version']);
    assert.equal(version.stdout.trim(), pkg.version);
  });

  test('keygen writes a key pair ssh-keygen reads', async () => {
    const out = join(work, 'key');
    const r = await installed(['keygen', '--type', 'ed25519', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as { publicKey: string; fingerprint: string };
    const pub = await readFile(`${out}.pub`, 'utf8');
    assert.equal(pub.trim(), printed.publicKey);
    assert.equal(typeAndBase64(await sshKeygenOk(['-y', '-f', out])), typeAndBase64(pub), 'the private key is the public key\'s other half');
  });

  test('connect --dry-run against the stand-ins plans every repository and changes nothing', async () => {
    stack = await startStack();
    const stateDir = join(work, 'state');
    const r = await installed(['connect', 'acme/ml-models', '--project', 'acme/ml-models', '--dry-run', '--json'], {
      ...stack.env,
      VALOHAI_BITBUCKET_STATE_DIR: stateDir,
    });
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { accessKeys: { repository: string; status: string }[] };
    assert.deepEqual(
      plan.accessKeys.map((k) => [k.repository, k.status]).sort(),
      ['acme/datasets', 'acme/feature-store', 'acme/ml-models', 'acme/training-lib'].map((n) => [n, 'planned']),
    );
    assert.equal(stack.bitbucket.state.accessKeys('acme', 'ml-models').length, 0);
  });
});
