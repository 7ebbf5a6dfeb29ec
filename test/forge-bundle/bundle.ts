/**
 * The app's functions as `forge deploy` bundles them (see run-forge-bundler.cjs), in a temporary
 * folder that `remove()` deletes. Used by the bundled-handlers test and by the benchmark.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as BundleReport;
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
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
