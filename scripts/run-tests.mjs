#!/usr/bin/env node
// The one test command. Builds the CLI, then runs every test/**/*.test.ts file (or the files and
// folders named on the command line) with Node's own test runner, TypeScript loaded through tsx, and
// ends the output with one line "N passed, N failed[, N skipped]" so that a run which executed
// nothing is plain to see.
//
//   --quick   only the unit-level folders (QUICK below): no browser, no CLI process, no bundle
//   --times   after the run, a table of time by test folder (each file's own time, summed per folder,
//             and the CPU time its processes used); a whole run (no --quick, no files named) prints it
//             anyway, with the run's wall clock
//
// Files run side by side (VB_TEST_CONCURRENCY, default 4): most of the slow files wait on git, ssh and
// child processes rather than compute, so more files than cores keep the machine busy. On two cores, 3 and
// 6 at a time did no better than 4 (6 spent more CPU on the same files).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

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

/**
 * Unit-level: pure code and the API clients against in-process fakes; no emulator stack, no CLI
 * process, no browser, no bundler. test/git is left out: it checks the URL and config rules against
 * hundreds of real git runs, which alone take most of a minute.
 */
const QUICK = ['test/ssh', 'test/http', 'test/bitbucket', 'test/valohai', 'test/connect'];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const wholeRun = !args.some((a) => a !== '--times');
const times = args.includes('--times') || wholeRun;
const started = Date.now();
const targets = args.filter((a) => a !== '--quick' && a !== '--times');
/**
 * The longest files, longest first (as measured by `npm run test:times`): started first, they run
 * beside the many short ones instead of being the last to finish on their own. The bundled-handlers
 * test leads: it runs Forge's bundler, whose bundle the at-least-once story then finds made.
 */
const LONGEST_FIRST = [
  'test/forge-bundle/bundled-handlers.test.ts',
  'test/static/settings-health-fleet.test.ts',
  'test/e2e/preview-browser.test.ts',
  'test/forge/unattended.test.ts',
  'test/forge-bundle/at-least-once.test.ts',
  'test/e2e/fault-matrix-rotate-reads.test.ts',
  'test/e2e/fault-matrix-rotate-writes.test.ts',
  'test/e2e/fault-matrix-connect-reads.test.ts',
  'test/e2e/fault-matrix-connect-writes.test.ts',
  'test/e2e/preview-truth.test.ts',
  'test/e2e/preview-pages.test.ts',
  'test/e2e/fault-matrix-disconnect-reads.test.ts',
  'test/static/settings-pages.test.ts',
  'test/e2e/cli-workflows.test.ts',
  'test/e2e/cli-truth.test.ts',
  'test/e2e/preview-health.test.ts',
  'test/e2e/fault-matrix-connect-again.test.ts',
  'test/e2e/preview-unattended.test.ts',
  'test/e2e/fault-matrix-disconnect-writes.test.ts',
];
const rank = (file) => {
  const at = LONGEST_FIRST.indexOf(file);
  return at < 0 ? LONGEST_FIRST.length : at;
};
const files = (targets.length ? targets : quick ? QUICK : ['test'])
  .flatMap((t) => collect(join(root, t), []))
  .map((file, i) => ({ file, i }))
  .sort((a, b) => rank(a.file) - rank(b.file) || a.i - b.i)
  .map(({ file }) => file);
const concurrency = Number(process.env.VB_TEST_CONCURRENCY || 4);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`VB_TEST_CONCURRENCY must be a whole number of test files to run at once, not "${process.env.VB_TEST_CONCURRENCY}".`);
  process.exit(2);
}
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
    // Each file's process reports its CPU time (its own and its child processes') for the times table.
    '--import', './test/support/cpu-meter.mjs',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=./test/support/summary-reporter.mjs', `--test-reporter-destination=${summaryFile}`,
    ...files,
  ],
  // VB_TEST_WORK: a folder for the run that test files may share (the one preview build of the pages).
  { cwd: root, stdio: 'inherit', env: { ...process.env, VB_TEST: '1', VB_TEST_WORK: work } },
);
child.on('exit', (code, signal) => {
  let counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    counts = JSON.parse(readFileSync(summaryFile, 'utf8'));
  } catch {
    counts.failed += 1; // the runner died before it could report: count it as a failure
  }
  const cpu = cpuByFile(join(work, 'cpu.jsonl'));
  rmSync(work, { recursive: true, force: true });
  if (times) printTimes(counts.files ?? {}, cpu, Date.now() - started);
  const failed = counts.failed + (code !== 0 && counts.failed === 0 ? 1 : 0);
  const skipped = counts.skipped ? `, ${counts.skipped} skipped` : '';
  console.log(`${counts.passed} passed, ${failed} failed${skipped}`);
  process.exit(signal ? 1 : failed > 0 || counts.passed === 0 ? 1 : 0);
});

/** CPU milliseconds by file (relative to the root), as test/support/cpu-meter.mjs wrote them; empty without /proc. */
function cpuByFile(path) {
  const byFile = {};
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return byFile;
  }
  for (const line of text.split('\n')) {
    if (!line) continue;
    const { file, ms } = JSON.parse(line);
    byFile[relative(root, file)] = ms;
  }
  return byFile;
}

/**
 * Seconds by folder (sum of its files' own times; files ran side by side, so the sum exceeds the wall
 * clock), and the CPU seconds their processes used, which a busy machine does not inflate as it does
 * the wall clock.
 */
function printTimes(byFile, cpuOf, wallMs) {
  const folders = new Map();
  for (const [file, ms] of Object.entries(byFile)) {
    const folder = dirname(relative(root, file));
    const f = folders.get(folder) ?? { ms: 0, cpu: 0, files: 0 };
    f.ms += ms;
    f.cpu += cpuOf[relative(root, file)] ?? 0;
    f.files += 1;
    folders.set(folder, f);
  }
  const rows = [...folders].sort((a, b) => b[1].ms - a[1].ms);
  const s = (ms) => (ms / 1000).toFixed(1);
  console.log('\n| folder | files | seconds | CPU seconds |\n| --- | ---: | ---: | ---: |');
  for (const [folder, f] of rows) console.log(`| ${folder} | ${f.files} | ${s(f.ms)} | ${s(f.cpu)} |`);
  const total = rows.reduce((t, [, f]) => t + f.ms, 0);
  const totalCpu = rows.reduce((t, [, f]) => t + f.cpu, 0);
  console.log(`| all (sum of files) | ${rows.reduce((t, [, f]) => t + f.files, 0)} | ${s(total)} | ${s(totalCpu)} |\n`);
  // The longest files, to keep LONGEST_FIRST in step.
  const longest = Object.entries(byFile).sort((a, b) => b[1] - a[1]).slice(0, LONGEST_FIRST.length);
  const cpuNote = (file) => (cpuOf[relative(root, file)] === undefined ? '' : ` (CPU ${(cpuOf[relative(root, file)] / 1000).toFixed(0)} s)`);
  console.log(`Longest files: ${longest.map(([file, ms]) => `${relative(root, file)} ${(ms / 1000).toFixed(0)} s${cpuNote(file)}`).join(', ')}.`);
  console.log(`Wall clock: ${(wallMs / 1000).toFixed(0)} s, ${concurrency} files at a time.\n`);
}
