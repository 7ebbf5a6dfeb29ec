/**
 * The app's functions as `forge deploy` bundles them (see run-forge-bundler.cjs), in a temporary
 * folder that `remove()` deletes. Used by the forge-bundle tests (one bundle per test run, see
 * bundleForTests) and by the benchmark.
 */
import { execFile } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ManifestSchema } from '@forge/manifest';

export interface BundleReport {
  /** The manifest's handlers, `module.function`, e.g. `forge/index.resolver`. */
  handlers: string[];
  /** What Forge's bundler was given: one entry per handler module, path relative to the app. */
  entryPoints: { name: string; path: string }[];
  /** Every file the deploy archive would get from bundling, relative to the bundle folder. */
  files: { path: string; bytes: number }[];
  /** What Forge's bundler logged as warnings (deploy prints them). */
  warnings: string[];
  bundleMs: number;
  /** Packages from node_modules inside the bundle, as Forge's bundler reports them. */
  modules: string[];
  /** The @forge packages the code imports. */
  sdkImports: string[];
}

export interface ForgeBundle {
  dir: string;
  report: BundleReport;
  /** The manifest as the deploy archive carries it. */
  manifest: ManifestSchema;
  /** The bundle file of a handler module, e.g. `forge/index` → `<dir>/forge/index.cjs`. */
  fileOf(module: string): string;
  /** `require()`s a handler's module from the bundle, as Forge's runtime does, and returns the function. */
  handler(handler: string): (...args: unknown[]) => unknown;
  remove(): Promise<void>;
}

const root = new URL('../..', import.meta.url).pathname;
const child = new URL('./run-forge-bundler.cjs', import.meta.url).pathname;
/** webpack with ts-loader's type check takes a minute or two on a busy two-core machine. */
const BUNDLE_TIMEOUT_MS = 900_000;

/** `forge/index.resolver` → module `forge/index`, function `resolver` (Forge's own split on the one dot). */
export function splitHandler(handler: string): { module: string; func: string } {
  const parts = handler.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`A Forge handler is "<module>.<function>" (got "${handler}").`);
  return { module: parts[0], func: parts[1] };
}

export async function bundleWithForge(appDirectory: string = root): Promise<ForgeBundle> {
  const dir = await mkdtemp(join(tmpdir(), 'vb-forge-bundle-'));
  try {
    const report = await runBundler(appDirectory, dir);
    return await openBundle(dir, report, () => rm(dir, { recursive: true, force: true }));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Forge's bundler, as its own process, writing the bundle into `dir`; its report. */
async function runBundler(appDirectory: string, dir: string): Promise<BundleReport> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', child, dir],
      { cwd: appDirectory, timeout: BUNDLE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, out, stderr) => {
        if (!err) resolve(out);
        else if (err.killed) reject(new Error(`Forge's bundler did not finish within ${BUNDLE_TIMEOUT_MS / 60_000} minutes.`));
        else reject(new Error(`Bundling with Forge's bundler failed: ${stderr.trim() || err.message}`));
      },
    );
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as BundleReport;
}

async function openBundle(dir: string, report: BundleReport, remove: () => Promise<void>): Promise<ForgeBundle> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.yml'), 'utf8')) as ManifestSchema;
  const requireHere = createRequire(join(dir, 'index.cjs'));
  const fileOf = (module: string) => join(dir, `${module}.cjs`);
  return {
    dir,
    report,
    manifest,
    fileOf,
    handler(handler) {
      const { module, func } = splitHandler(handler);
      const exported = (requireHere(fileOf(module)) as Record<string, unknown>)[func];
      if (typeof exported !== 'function') throw new Error(`The bundle ${module}.cjs exports no function ${func}.`);
      return exported as (...args: unknown[]) => unknown;
    },
    remove,
  };
}

/**
 * The bundle for a test file. Bundling is a minute or two of a core, and what it makes depends only on
 * the app's files, so under the test command (which names a folder for the run in VB_TEST_WORK) the
 * test files share one: the first to ask runs Forge's bundler, the others wait for it. Each file still
 * `require()`s the bundle itself, so every file has module state of its own, as a Forge process would.
 * A file run on its own bundles into a temp folder of its own. `remove()` leaves the shared one to the
 * test command, which removes the run's folder at the end.
 */
export async function bundleForTests(): Promise<ForgeBundle> {
  const work = process.env.VB_TEST_WORK;
  if (!work) return bundleWithForge();
  const shared = join(work, 'forge-bundle');
  const dir = join(shared, 'bundle');
  const reportFile = join(shared, 'report.json');
  const failedFile = join(shared, 'failed');
  const keep = async () => {};
  let mine = true;
  try {
    await mkdir(shared); // the first file to get here bundles; mkdir is the lock
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    mine = false;
  }
  if (mine) {
    let report: BundleReport;
    try {
      report = await runBundler(root, dir);
    } catch (err) {
      await writeFile(failedFile, err instanceof Error ? err.message : String(err));
      throw err;
    }
    // Whole or not at all: the others take the report's presence as the bundle being done.
    await writeFile(`${reportFile}.partial`, JSON.stringify(report));
    await rename(`${reportFile}.partial`, reportFile);
    return openBundle(dir, report, keep);
  }
  await untilOneExists(shared, [reportFile, failedFile], BUNDLE_TIMEOUT_MS);
  if (existsSync(failedFile)) throw new Error(`Forge's bundler (run by another test file) failed:\n${await readFile(failedFile, 'utf8')}`);
  const report = JSON.parse(await readFile(reportFile, 'utf8')) as BundleReport;
  return openBundle(dir, report, keep);
}

/** Resolves once one of `files` (all in folder `dir`) exists: woken by the folder's changes, not by polling. */
function untilOneExists(dir: string, files: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir);
    const done = (err?: Error) => {
      clearTimeout(timer);
      watcher.close();
      if (err) reject(err);
      else resolve();
    };
    const look = () => {
      if (files.some((f) => existsSync(f))) done();
    };
    const timer = setTimeout(() => done(new Error(`The shared Forge bundle in ${dir} was not made within ${timeoutMs / 60_000} minutes.`)), timeoutMs);
    watcher.on('change', look);
    watcher.on('error', (err) => done(err));
    look(); // made before the watch began
  });
}
