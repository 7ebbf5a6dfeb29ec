/**
 * The whole story (scenario.ts) on a fresh stack of stand-ins and a fresh fake Forge, for the tests
 * that run it through the bundle or the source, once or with the queue misbehaving as Forge may.
 */
import type { TestContext } from 'node:test';
import type { ManifestSchema } from '@forge/manifest';
import { startStack, type Stack } from '../../dev/stack';
import { bb, valohaiSeed } from '../forge/support/forge-fixture';
import { FakeForge } from './fake-forge';
import { runScenario, type ScenarioOptions, type TranscriptEntry } from './scenario';

export type Loader = (handler: string) => Promise<(...args: unknown[]) => unknown>;

export interface StoryOptions extends ScenarioOptions {
  atLeastOnce?: boolean;
  /** Called with the fake once it has started, before the story begins. */
  prepare?: (forge: FakeForge) => void;
  /** Called with the fake and the stack once the story has run, before both stop. */
  inspect?: (forge: FakeForge, stack: Stack) => void;
}

export async function runStory(t: TestContext, manifest: ManifestSchema, load: Loader, options: StoryOptions = {}): Promise<TranscriptEntry[]> {
  const stack = await startStack({ valohaiSeed });
  const users = Object.fromEntries([bb.admin, bb.writer, bb.reader, bb.outsider].map((p) => [p.accountId, { email: p.email, token: p.token }]));
  try {
    const forge = await FakeForge.start({
      manifest,
      load,
      upstreams: { 'api.bitbucket.org': stack.bitbucket.origin, 'app.valohai.com': stack.valohai.url },
      // The emulator has no app principal: the app's own reads go out as the workspace's owner.
      bitbucket: { origin: stack.bitbucket.origin, app: { email: bb.admin.email, token: bb.admin.token }, users },
      ...(options.atLeastOnce ? { atLeastOnce: true } : {}),
    });
    try {
      options.prepare?.(forge);
      const transcript = await runScenario(t, forge, stack, options);
      await forge.idle();
      options.inspect?.(forge, stack);
      return transcript;
    } finally {
      await forge.close();
    }
  } finally {
    await stack.close();
  }
}
