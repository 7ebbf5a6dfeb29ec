// What `forge deploy` ships is what runs: the functions bundled by Forge's own bundler, loaded with
// require() in Node, run a workspace's whole story (tokens, connect with submodules, push-triggered
// fetch, rotate, disconnect) through the bundled resolver, queue consumer and push trigger on a fake
// Forge platform wired to the stand-ins. The same story then runs through the unbundled source on the
// same fake, and the two runs must tell the pages the same things and make the same calls.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { bundleForTests, splitHandler, type ForgeBundle } from './bundle';
import type { TranscriptEntry } from './scenario';
import { runStory, type Loader } from './story';

let bundle: ForgeBundle;
const transcripts: { bundle?: TranscriptEntry[]; source?: TranscriptEntry[] } = {};

before(async () => {
  bundle = await bundleForTests();
});
after(async () => {
  await bundle?.remove();
});

const runWith = (t: TestContext, load: Loader) => runStory(t, bundle.manifest, load);

test("Forge's bundler bundles every handler manifest.yml names, with no warnings", () => {
  const functions = (bundle.manifest.modules?.function ?? []) as { handler: string }[];
  assert.deepEqual(bundle.report.handlers, functions.map((f) => f.handler));
  assert.deepEqual(bundle.report.entryPoints, [{ name: 'forge/index', path: 'src/forge/index' }]);
  assert.deepEqual(bundle.report.warnings, []);
  assert.equal(bundle.manifest.app?.runtime?.name, 'nodejs22.x');
  for (const handler of bundle.report.handlers) {
    assert.ok(existsSync(bundle.fileOf(splitHandler(handler).module)), `${handler}: its module is in the bundle`);
    assert.equal(typeof bundle.handler(handler), 'function', `${handler} is exported`);
  }
});

test('the whole story through the bundled handlers', async (t) => {
  transcripts.bundle = await runWith(t, async (handler) => bundle.handler(handler));
});

test('the same story through the unbundled source', async (t) => {
  transcripts.source = await runWith(t, async (handler) => {
    const { module, func } = splitHandler(handler);
    const mod = (await import(new URL(`../../src/${module}.ts`, import.meta.url).href)) as Record<string, unknown>;
    const fn = mod[func];
    assert.equal(typeof fn, 'function', `src/${module}.ts exports ${func}`);
    return fn as (...args: unknown[]) => unknown;
  });
});

test('the bundle and the source tell the pages the same and make the same calls', () => {
  assert.ok(transcripts.bundle && transcripts.source, 'both runs finished');
  const source = transcripts.source;
  for (const [i, entry] of transcripts.bundle.entries()) {
    const other: TranscriptEntry | undefined = source[i];
    assert.equal(entry.step, other?.step);
    assert.deepEqual(entry.replies, other?.replies, `replies differ in "${entry.step}"`);
    assert.deepEqual(entry.outbound, other?.outbound, `outbound calls differ in "${entry.step}"`);
  }
  assert.equal(transcripts.bundle.length, transcripts.source.length);
});
