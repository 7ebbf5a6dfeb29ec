// Which submodule repositories need the connection's key. Valohai fetches an SSH URL with the key,
// public or private alike (Bitbucket's SSH wants a key it knows); an https URL it fetches without
// credentials, which works for a public repository only. So a public repository named by https needs
// no key and its URL no change; a private one named by https is a target and gets the warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { discover } from '../../src/connect/discover';
import type { BitbucketApi, RepositoryInfo } from '../../src/connect/ports';

interface Repo {
  isPrivate: boolean;
  gitmodules?: string;
}

function bitbucket(repos: Record<string, Repo>): BitbucketApi & { read: string[] } {
  const read: string[] = [];
  const find = (workspace: string, slug: string) => {
    const r = repos[`${workspace}/${slug}`];
    if (!r) throw new Error(`no repository ${workspace}/${slug}`);
    return r;
  };
  return {
    read,
    getRepository: async (workspace, slug): Promise<RepositoryInfo> => ({
      uuid: `{${slug}}`,
      slug,
      fullName: `${workspace}/${slug}`,
      workspace,
      mainBranch: 'main',
      sshUrl: `git@bitbucket.org:${workspace}/${slug}.git`,
      isPrivate: find(workspace, slug).isPrivate,
    }),
    getBranchHead: async () => 'c'.repeat(40),
    getFileAtCommit: async (workspace, slug) => {
      read.push(`${workspace}/${slug}`);
      return find(workspace, slug).gitmodules;
    },
    listAccessKeys: async () => [],
    addAccessKey: async () => assert.fail('discovery adds nothing'),
    deleteAccessKey: async () => assert.fail('discovery removes nothing'),
  };
}

const modules = (entries: [string, string][]) => entries.map(([name, url]) => `[submodule "${name}"]\n\tpath = ${name}\n\turl = ${url}\n`).join('');

const plan = (repos: Record<string, Repo>) => discover(bitbucket(repos), { workspace: 'acme', repo: 'super', ref: 'main', submodules: true });

test('a public repository named by https gets no key and no warning; a private one named by https gets both', async () => {
  const found = await plan({
    'acme/super': {
      isPrivate: true,
      gitmodules: modules([
        ['docs', 'https://bitbucket.org/acme/docs.git'],
        ['secret', 'https://bitbucket.org/acme/secret.git'],
        ['lib', '../lib.git'],
        ['open', 'git@bitbucket.org:acme/open.git'],
      ]),
    },
    'acme/docs': { isPrivate: false },
    'acme/secret': { isPrivate: true },
    'acme/lib': { isPrivate: true },
    'acme/open': { isPrivate: false },
  });
  assert.deepEqual(found.targets.map((t) => t.key), ['acme/super', 'acme/secret', 'acme/lib', 'acme/open'], 'a public repository over SSH still needs the key');
  const https = found.warnings.filter((w) => w.code === 'https-submodule');
  assert.equal(https.length, 1, JSON.stringify(found.warnings));
  assert.match(https[0]?.message ?? '', /Submodule "secret" uses https:\/\/.*Change \.gitmodules line \d+ to: url = git@bitbucket\.org:acme\/secret\.git/);
});

test('a public repository named by https and by SSH keeps the key the SSH submodule needs, and no warning', async () => {
  const found = await plan({
    'acme/super': {
      isPrivate: true,
      gitmodules: modules([
        ['docs', 'https://bitbucket.org/acme/docs.git'],
        ['docs-again', '../docs.git'],
      ]),
    },
    'acme/docs': { isPrivate: false },
  });
  assert.deepEqual(found.targets.map((t) => t.key), ['acme/super', 'acme/docs']);
  assert.deepEqual(found.warnings.filter((w) => w.code === 'https-submodule'), []);
});

test("a public https submodule's own relative submodules resolve to https: a private one among them is warned about and gets the key", async () => {
  const found = await plan({
    'acme/super': { isPrivate: true, gitmodules: modules([['docs', 'https://bitbucket.org/acme/docs.git']]) },
    'acme/docs': {
      isPrivate: false,
      gitmodules: modules([
        ['theme', '../theme.git'],
        ['drafts', '../drafts.git'],
      ]),
    },
    'acme/theme': { isPrivate: false },
    'acme/drafts': { isPrivate: true },
  });
  assert.deepEqual(found.targets.map((t) => t.key), ['acme/super', 'acme/drafts']);
  const https = found.warnings.filter((w) => w.code === 'https-submodule');
  assert.deepEqual(https.map((w) => w.repository), ['acme/docs']);
  assert.match(https[0]?.message ?? '', /Submodule "drafts" uses https:\/\//);
});

test('a public repository reached by https in a cycle is read once per level at most, and never becomes a target', async () => {
  const bb = bitbucket({
    'acme/super': { isPrivate: true, gitmodules: modules([['docs', 'https://bitbucket.org/acme/docs.git']]) },
    'acme/docs': { isPrivate: false, gitmodules: modules([['self', 'https://bitbucket.org/acme/docs.git']]) },
  });
  const found = await discover(bb, { workspace: 'acme', repo: 'super', ref: 'main', submodules: true });
  assert.deepEqual(found.targets.map((t) => t.key), ['acme/super']);
  assert.deepEqual(bb.read, ['acme/super', 'acme/docs']);
  assert.deepEqual(found.warnings, []);
});
