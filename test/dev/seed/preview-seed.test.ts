// The preview's seed: the demo world unchanged plus acme/crown-jewels, which only the workspace admin
// administers, so a writer's .gitmodules can name a repository nobody gave the writer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSeed, demoBitbucketCredentials as bb, demoSeed, previewSeed, trustSeed, type BuiltSeed } from '../../../dev/seed/index';

let built: BuiltSeed;

before(async () => {
  built = await buildSeed(previewSeed);
});
after(async () => {
  await built?.cleanup();
});

const slugsOf = (seed: typeof demoSeed, ws: string) => seed.workspaces.find((w) => w.slug === ws)?.repos.map((r) => r.slug) ?? [];

describe('the preview seed', () => {
  test('is the demo world with acme/crown-jewels added; the demo seed itself is unchanged', () => {
    assert.deepEqual(slugsOf(previewSeed, 'acme'), [...slugsOf(demoSeed, 'acme'), 'crown-jewels']);
    assert.ok(!slugsOf(demoSeed, 'acme').includes('crown-jewels'));
    assert.deepEqual(slugsOf(previewSeed, 'umbrella'), slugsOf(demoSeed, 'umbrella'));
    assert.equal(previewSeed.users, demoSeed.users);
    assert.equal(previewSeed.repoPermissions, demoSeed.repoPermissions);
    // The trust seed carries the same repository once.
    assert.equal(slugsOf(trustSeed, 'acme').filter((s) => s === 'crown-jewels').length, 1);
  });

  test('crown-jewels is private, has a commit, and only the workspace admin may reach it', async () => {
    const state = built.state;
    const jewels = state.findRepo('acme', 'crown-jewels');
    assert.ok(jewels);
    assert.equal(jewels.isPrivate, true);
    assert.ok(state.bareRepoPath('acme', 'crown-jewels'));
    const permission = (email: string) => {
      const user = state.findUser(email);
      assert.ok(user, email);
      return state.effectivePermission(user, jewels);
    };
    assert.equal(permission(bb.admin.email), 'admin');
    assert.equal(permission(bb.writer.email), undefined, 'the writer has no access');
    assert.equal(permission(bb.reader.email), undefined);
    assert.equal(permission(bb.outsider.email), undefined);
    // The writer still writes to the repository whose .gitmodules can name it.
    const models = state.findRepo('acme', 'ml-models');
    const writer = state.findUser(bb.writer.email);
    assert.ok(models && writer);
    assert.equal(state.effectivePermission(writer, models), 'write');
  });
});
