/**
 * Bundles the app's functions the way `forge deploy` does, run as its own process with the app's
 * folder as working directory (Forge's CLI reads `manifest.yml` and resolves `src/<module>` from
 * there). The steps are the deploy packager's (`RuntimeBundler.packageCode` and
 * `packageDependencies` in @forge/cli 13.3.0): the manifest's handlers, `getEntryPoints`,
 * `getNodeBundler(...).bundle({appDirectory, entryPoints})`, then the bundle, the bundler's extra
 * outputs and the manifest (as JSON, as the archive holds it) copied into the folder named on the
 * command line.
 *
 * The one part not Forge's own is the runtime wrapper provider: the real one downloads Forge's
 * wrapper script (`__forge__.cjs`, the code that installs the runtime globals and calls the handler)
 * from Forge's CDN. It is not the app's code, and here the fake runtime plays its part.
 *
 * Prints one JSON line (a `BundleReport`) on stdout; a failed bundle exits 1 with Forge's message.
 */
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { getEntryPoints, getNodeBundler } from '@forge/bundler';
import type { WrapperProvider } from '@forge/bundler/out/wrapper-provider';
import { ConfigFile, FileSystemReader, FileSystemWriter, manifestFileName, type Logger, type StatsigService } from '@forge/cli-shared';
import type { BundleReport } from './bundle';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: run-forge-bundler.cts <output folder>');
  process.exit(2);
}

// Forge's output folder is a `tmp` directory named forge-dist-<pid>-…; nothing else removes it.
process.on('exit', () => {
  for (const name of readdirSync(tmpdir())) {
    if (name.startsWith(`forge-dist-${process.pid}-`)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
});

const warnings: string[] = [];
const logger: Logger = {
  traceEnabled: false,
  debugEnabled: false,
  trace() {},
  debug() {},
  info() {},
  warn: (message) => warnings.push(message),
  error: (error) => warnings.push(error.message),
};

const wrapperProvider: WrapperProvider = {
  getNodeRuntimeWrapper: async () => ({
    script: '// Forge downloads its runtime wrapper here at deploy time; the fake runtime stands in for it.\n',
    source: 'not downloaded',
    version: 'none',
  }),
  // No loader: the wrapper itself is the entry point, as with Forge's loader feature gate off.
  getNodeRuntimeLoader: async () => undefined,
};

/**
 * Forge's bundler asks its feature gates only when `app.package.bundler` is "typescript" (early
 * access); this manifest has no `app.package`, so no gate is ever read. Answering "off" is what an
 * app outside the early access gets.
 */
const gatesOff = new Proxy({}, { get: () => async () => false }) as StatsigService;

const fileReader = new FileSystemReader();
const configFile = new ConfigFile(fileReader, new FileSystemWriter());
const manifest = await configFile.readConfig();
const handlers = await configFile.getAppHandlers();
const entryPoints = getEntryPoints(handlers);
const t0 = performance.now();
const result = await getNodeBundler(logger, wrapperProvider, configFile, gatesOff)
  .bundle({ appDirectory: process.cwd(), entryPoints })
  .catch((err: unknown) => {
    console.error(`Forge's bundler failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
const bundleMs = performance.now() - t0;

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
cpSync(result.outputDir, outDir, { recursive: true });
rmSync(result.outputDir, { recursive: true, force: true });
for (const [name, content] of result.additionalOutputs ?? []) {
  const path = join(outDir, name);
  mkdirSync(dirname(path), { recursive: true });
  // A string is a file to copy, a Buffer the content itself (as Forge's archiver takes them).
  if (typeof content === 'string') cpSync(content, path);
  else writeFileSync(path, content);
}
writeFileSync(join(outDir, manifestFileName), JSON.stringify(manifest));

const files = (readdirSync(outDir, { recursive: true }) as string[])
  .filter((f) => statSync(join(outDir, f)).isFile())
  .sort()
  .map((f) => ({ path: f, bytes: statSync(join(outDir, f)).size }));
const metadata = result.metadata;
const report: BundleReport = {
  handlers: handlers.map((h) => `${h.module}.${h.func}`),
  entryPoints: entryPoints.map((e) => ({ name: e.name, path: relative(process.cwd(), e.path) })),
  files,
  warnings,
  bundleMs,
  modules: [...(metadata?.modules ?? [])].sort(),
  sdkImports: [...(metadata?.sdkImports ?? [])].sort(),
};
process.stdout.write(`\n${JSON.stringify(report)}\n`);
