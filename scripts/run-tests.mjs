#!/usr/bin/env node
// The one test command. Builds the CLI, then runs every test/**/*.test.ts file (or the files and
// folders named on the command line) with Node's own test runner, TypeScript loaded through tsx, and
// ends the output with one line "N passed, N failed[, N skipped]" so that a run which executed
// nothing is plain to see.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      collect(join(path, name), out);
    }
  } else if (/\.test\.(ts|mts|js|mjs)$/.test(path)) {
    out.push(relative(root, path));
  }
  return out;
}

const targets = process.argv.slice(2);
const files = (targets.length ? targets : ['test']).flatMap((t) => collect(join(root, t), []));
if (files.length === 0) {
  console.error('No test files found.');
  console.log('0 passed, 0 failed');
  process.exit(1);
}

// The CLI tests run the CLI as it ships (dist/cli.js, what `bin` names), so build it first; the
// bundler takes well under a second.
const build = spawnSync(process.execPath, [join(root, 'scripts/build-cli.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('Building the CLI failed (scripts/build-cli.mjs); the tests did not run.');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'vb-test-'));
const summaryFile = join(work, 'summary.json');
const child = spawn(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=./test/support/summary-reporter.mjs', `--test-reporter-destination=${summaryFile}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, VB_TEST: '1' } },
);
child.on('exit', (code, signal) => {
  let counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    counts = JSON.parse(readFileSync(summaryFile, 'utf8'));
  } catch {
    counts.failed += 1; // the runner died before it could report: count it as a failure
  }
  rmSync(work, { recursive: true, force: true });
  const failed = counts.failed + (code !== 0 && counts.failed === 0 ? 1 : 0);
  const skipped = counts.skipped ? `, ${counts.skipped} skipped` : '';
  console.log(`${counts.passed} passed, ${failed} failed${skipped}`);
  process.exit(signal ? 1 : failed > 0 || counts.passed === 0 ? 1 : 0);
});
