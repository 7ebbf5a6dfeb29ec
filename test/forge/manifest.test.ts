// manifest.yml checked by Atlassian's own offline validator (the one `forge lint` and `forge deploy`
// run), plus the choices this app depends on that a schema cannot know: the module keys the pages
// switch on, the smallest scope set, the queue consumer's time limit and the egress hosts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessorBuilder, ValidationTypes, type ManifestSchema, type ValidationError } from '@forge/manifest';
import { MODULE_KEYS } from '../../src/forge/contract';

const root = new URL('../..', import.meta.url).pathname;
const manifestPath = join(root, 'manifest.yml');

/**
 * The validator refuses a resource whose folder is missing, and the UI build is not committed: on a
 * clean clone, build it first (the same command `npm run build` runs).
 */
function ensureUiBuilt(): void {
  if (existsSync(join(root, 'static/settings/build/index.html'))) return;
  const run = spawnSync('npm', ['run', '--silent', 'build:ui'], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 0, `npm run build:ui failed:\n${run.stdout}\n${run.stderr}`);
}

async function validate(type: ValidationTypes) {
  const result = await ProcessorBuilder.instance().withValidation(type).build().process(manifestPath);
  const problems = (result.errors ?? []).map((e: ValidationError) => `${e.level}: ${e.message} (line ${e.line ?? '?'})`);
  return { problems, manifest: result.manifestObject?.typedContent as ManifestSchema | undefined };
}

test('manifest passes the Forge validator with no errors and no warnings', async () => {
  ensureUiBuilt();
  for (const type of [
    ValidationTypes.FULL,
    ValidationTypes.PRODUCT_TRIGGER,
    ValidationTypes.DEPRECATED_CSP_METHOD,
    ValidationTypes.DEPRECATED_EGRESS_PERMISSIONS,
  ]) {
    const { problems } = await validate(type);
    assert.deepEqual(problems, [], `validation "${type}" reported problems`);
  }
});

test('manifest declares what the pages and the backend rely on', async () => {
  ensureUiBuilt();
  const { manifest } = await validate(ValidationTypes.BASIC);
  assert.ok(manifest, 'manifest.yml did not parse');
  const modules = manifest.modules as Record<string, Array<Record<string, unknown>>>;

  assert.equal(manifest.app.runtime?.name, 'nodejs22.x');
  assert.match(manifest.app.id, /^ari:cloud:ecosystem::app\/[0-9a-f-]{36}$/);

  // The pages pick their view from these keys (static/settings/src/app.tsx).
  const repoPage = modules['bitbucket:repoSettingsMenuPage']?.[0];
  const workspacePage = modules['bitbucket:workspaceSettingsMenuPage']?.[0];
  assert.equal(repoPage?.key, MODULE_KEYS.repository);
  assert.equal(workspacePage?.key, MODULE_KEYS.workspace);
  for (const page of [repoPage, workspacePage]) {
    assert.equal(page?.title, 'Valohai');
    assert.deepEqual(page?.resolver, { function: 'resolver' });
    assert.ok(String(page?.resource).length <= 23, 'a module resource key is at most 23 characters');
  }
  const resources = manifest.resources ?? [];
  assert.deepEqual(
    resources.map((r) => ({ key: r.key, path: r.path })),
    [{ key: String(repoPage?.resource), path: 'static/settings/build' }],
  );

  const functions = new Map((modules.function ?? []).map((f) => [f.key, f]));
  assert.equal(functions.get('resolver')?.handler, 'forge/index.resolver');

  const consumer = modules.consumer?.[0];
  assert.equal(consumer?.queue, 'connection-jobs');
  const consumerFn = functions.get(String(consumer?.function));
  assert.equal(consumerFn?.handler, 'forge/index.jobConsumer');
  assert.equal(consumerFn?.timeoutSeconds, 900, 'a connect may take minutes; resolvers are capped at 25 s');

  const trigger = modules.trigger?.[0];
  assert.deepEqual(trigger?.events, ['avi:bitbucket:push:repository']);
  assert.equal(functions.get(String(trigger?.function))?.handler, 'forge/index.onPush');

  // Connections are checked without anyone opening a page: hourly, the trigger only planning and the
  // queue doing the work.
  const schedule = modules.scheduledTrigger?.[0];
  assert.equal(schedule?.interval, 'hour');
  const scheduleFn = functions.get(String(schedule?.function));
  assert.equal(scheduleFn?.handler, 'forge/index.onSchedule');
  assert.ok(Number(scheduleFn?.timeoutSeconds) <= 900);

  // The fewest scopes: reading repositories (and the push event), the caller's workspace role for the
  // workspace page's admin check, and the app's own storage.
  const scopes = manifest.permissions?.scopes;
  assert.ok(Array.isArray(scopes), 'scopes as a list');
  assert.deepEqual([...scopes].sort(), ['read:repository:bitbucket', 'read:workspace:bitbucket', 'storage:app']);
  // ADS components inject their styles at run time.
  assert.deepEqual(manifest.permissions?.content?.styles, ['unsafe-inline']);
  const backend = manifest.permissions?.external?.fetch?.backend ?? [];
  assert.deepEqual(
    backend.map((entry) => (typeof entry === 'object' && 'address' in entry ? entry.address : `not an object: ${JSON.stringify(entry)}`)),
    ['app.valohai.com', 'api.bitbucket.org'],
    'egress hosts in the object form',
  );
});
