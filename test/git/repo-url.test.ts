import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidRepoUrlError, bitbucketSshUrl, parseRepoUrl, toSshUrl } from '../../src/git/index';
import type { InvalidRepoUrlReason } from '../../src/git/index';

describe('parseRepoUrl: Bitbucket repositories', () => {
  const cases: [string, { protocol: string; workspace: string; slug: string; port?: number; user?: string }][] = [
    ['git@bitbucket.org:ws/repo.git', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
    ['git@bitbucket.org:ws/repo', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
    ['git@bitbucket.org:ws/repo.git/', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
    ['git@bitbucket.org:/ws/repo.git', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
    ['bitbucket.org:ws/repo.git', { protocol: 'ssh', workspace: 'ws', slug: 'repo' }],
    ['ssh://git@bitbucket.org/ws/repo.git', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
    ['ssh://git@bitbucket.org/ws/repo', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
    ['ssh://git@bitbucket.org/ws/repo/', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
    ['ssh://git@bitbucket.org:22/ws/repo', { protocol: 'ssh', workspace: 'ws', slug: 'repo', port: 22, user: 'git' }],
    ['ssh://bitbucket.org/ws/repo', { protocol: 'ssh', workspace: 'ws', slug: 'repo' }],
    ['git+ssh://git@bitbucket.org/ws/repo.git', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
    ['SSH://git@bitbucket.org/ws/repo.git', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
    ['ssh://git@altssh.bitbucket.org:443/ws/repo.git', { protocol: 'ssh', workspace: 'ws', slug: 'repo', port: 443, user: 'git' }],
    ['https://bitbucket.org/ws/repo.git', { protocol: 'https', workspace: 'ws', slug: 'repo' }],
    ['https://bitbucket.org/ws/repo', { protocol: 'https', workspace: 'ws', slug: 'repo' }],
    ['https://bitbucket.org/ws/repo/', { protocol: 'https', workspace: 'ws', slug: 'repo' }],
    ['https://bitbucket.org/ws/repo.git/', { protocol: 'https', workspace: 'ws', slug: 'repo' }],
    ['https://alice@bitbucket.org/ws/repo.git', { protocol: 'https', workspace: 'ws', slug: 'repo', user: 'alice' }],
    ['https://bitbucket.org:443/ws/repo', { protocol: 'https', workspace: 'ws', slug: 'repo', port: 443 }],
    ['http://bitbucket.org/ws/repo', { protocol: 'http', workspace: 'ws', slug: 'repo' }],
    ['HTTPS://BITBUCKET.ORG/Ws/Repo.git', { protocol: 'https', workspace: 'Ws', slug: 'Repo' }],
    ['git@BitBucket.Org:my-team/my_repo.v2.git', { protocol: 'ssh', workspace: 'my-team', slug: 'my_repo.v2', user: 'git' }],
    ['  git@bitbucket.org:ws/repo.git\n', { protocol: 'ssh', workspace: 'ws', slug: 'repo', user: 'git' }],
  ];
  for (const [url, want] of cases) {
    it(`reads ${JSON.stringify(url)}`, () => {
      const parsed = parseRepoUrl(url);
      assert.equal(parsed.isBitbucket, true);
      assert.equal(parsed.protocol, want.protocol);
      assert.equal(parsed.workspace, want.workspace);
      assert.equal(parsed.slug, want.slug);
      assert.equal(parsed.key, `${want.workspace}/${want.slug}`.toLowerCase());
      assert.equal(parsed.port, want.port);
      assert.equal(parsed.user, want.user);
      assert.equal(toSshUrl(parsed), `git@bitbucket.org:${want.workspace}/${want.slug}.git`);
    });
  }

  it('keeps the case the URL uses but compares by a lower-case key', () => {
    const a = parseRepoUrl('git@bitbucket.org:Acme/Models.git');
    const b = parseRepoUrl('https://bitbucket.org/acme/models');
    assert.equal(a.slug, 'Models');
    assert.equal(a.key, b.key);
    assert.equal(a.host, 'bitbucket.org');
  });

  it('never keeps the password of an https URL, and shows it as ***', () => {
    const parsed = parseRepoUrl('https://alice:app-secret-123@bitbucket.org/ws/repo.git');
    assert.equal(parsed.user, 'alice');
    assert.equal(parsed.display, 'https://alice:***@bitbucket.org/ws/repo.git');
    assert.doesNotMatch(JSON.stringify(parsed), /app-secret-123/);
  });

  it('reports a Bitbucket URL that does not name a repository without workspace or slug', () => {
    for (const url of [
      'https://bitbucket.org/ws',
      'https://bitbucket.org/',
      'https://bitbucket.org',
      'git@bitbucket.org:ws/repo/extra.git',
      'git@bitbucket.org:ws//repo.git',
      'https://bitbucket.org/ws/repo/src/main',
      'git@bitbucket.org:ws/...git',
      'git@bitbucket.org:ws/..',
      'git@bitbucket.org:w%20s/repo.git',
      'git@bitbucket.org:ws/re po.git'.replace(' ', '%20'),
    ]) {
      const parsed = parseRepoUrl(url);
      assert.equal(parsed.isBitbucket, true, url);
      assert.equal(parsed.workspace, undefined, url);
      assert.equal(parsed.slug, undefined, url);
      assert.equal(parsed.key, undefined, url);
      assert.throws(() => toSshUrl(parsed), (e: unknown) => e instanceof InvalidRepoUrlError && e.reason === 'not-a-bitbucket-repository', url);
    }
  });
});

describe('parseRepoUrl: other hosts', () => {
  const cases: [string, string, string][] = [
    ['git@github.com:owner/repo.git', 'github.com', 'ssh'],
    ['https://github.com/owner/repo', 'github.com', 'https'],
    ['https://gitlab.example.com:8443/group/sub/repo.git', 'gitlab.example.com', 'https'],
    ['ssh://git@bitbucket.example.com:7999/proj/repo.git', 'bitbucket.example.com', 'ssh'],
    ['git@bitbucket-work:ws/repo.git', 'bitbucket-work', 'ssh'],
    ['git@bitbucket.org.evil.com:ws/repo.git', 'bitbucket.org.evil.com', 'ssh'],
    ['https://evilbitbucket.org/ws/repo', 'evilbitbucket.org', 'https'],
    ['https://[2001:db8::1]:8080/ws/repo', '[2001:db8::1]', 'https'],
    ['git@[::1]:ws/repo.git', '[::1]', 'ssh'],
    ['http://10.0.0.5/ws/repo', '10.0.0.5', 'http'],
  ];
  for (const [url, host, protocol] of cases) {
    it(`reports ${url} as ${host}, not Bitbucket`, () => {
      const parsed = parseRepoUrl(url);
      assert.equal(parsed.isBitbucket, false);
      assert.equal(parsed.host, host);
      assert.equal(parsed.protocol, protocol);
      assert.equal(parsed.workspace, undefined);
      assert.throws(() => toSshUrl(parsed), InvalidRepoUrlError);
    });
  }
});

describe('parseRepoUrl: refusals', () => {
  const cases: [string, InvalidRepoUrlReason][] = [
    ['', 'empty'],
    ['   ', 'empty'],
    ['git@bitbucket.org:ws/my repo.git', 'control-characters'],
    ['https://bitbucket.org/ws/repo\u0000', 'control-characters'],
    ['git://bitbucket.org/ws/repo.git', 'unsupported-scheme'],
    ['file:///srv/git/repo.git', 'unsupported-scheme'],
    ['ftp://bitbucket.org/ws/repo', 'unsupported-scheme'],
    ['/srv/git/repo.git', 'local-path'],
    ['../repo.git', 'local-path'],
    ['repo', 'local-path'],
    ['ws/repo:x', 'local-path'],
    ['C:/Users/me/repo', 'local-path'],
    ['https://', 'bad-host'],
    ['https:///ws/repo', 'bad-host'],
    ['ssh://git@/ws/repo', 'bad-host'],
    ['git@:ws/repo.git', 'bad-host'],
    ['ssh://git@[::1/ws/repo', 'bad-host'],
    ['ssh://git@[::1]x/ws/repo', 'bad-host'],
    ['https://[zz::1]/ws/repo', 'bad-host'],
    ['ssh://git@2001:db8::1/ws/repo', 'bad-port'],
    ['https://bit..bucket.org/ws/repo', 'bad-host'],
    ['https://-bitbucket.org/ws/repo', 'bad-host'],
    ['https://bitbucket.org:0/ws/repo', 'bad-port'],
    ['https://bitbucket.org:65536/ws/repo', 'bad-port'],
    ['https://bitbucket.org:/ws/repo', 'bad-port'],
    ['ssh://git@bitbucket.org:ssh/ws/repo', 'bad-port'],
    ['https://bitbucket.org/ws/repo.git?ref=main', 'query-or-fragment'],
    ['https://bitbucket.org/ws/repo#readme', 'query-or-fragment'],
    [`https://bitbucket.org/ws/${'a'.repeat(5000)}`, 'too-long'],
  ];
  for (const [url, reason] of cases) {
    it(`refuses ${JSON.stringify(url.length > 60 ? `${url.slice(0, 60)}…` : url)} (${reason})`, () => {
      assert.throws(
        () => parseRepoUrl(url),
        (e: unknown) => e instanceof InvalidRepoUrlError && e.reason === reason && e.message.length > 20,
      );
    });
  }

  it('says what to write instead, and never repeats a password', () => {
    assert.throws(
      () => parseRepoUrl('git://bitbucket.org/ws/repo.git'),
      (e: unknown) => e instanceof Error && e.message.includes('git@bitbucket.org:workspace/repo.git'),
    );
    assert.throws(
      () => parseRepoUrl('https://alice:hunter2@bitbucket.org/ws/repo?x=1'),
      (e: unknown) =>
        e instanceof InvalidRepoUrlError && !e.message.includes('hunter2') && !e.url.includes('hunter2') && e.message.includes('alice:***@'),
    );
  });

  it('cuts a huge URL short in the message', () => {
    const url = `https://bitbucket.org/ws/${'a'.repeat(100_000)}`;
    assert.throws(() => parseRepoUrl(url), (e: unknown) => e instanceof Error && e.message.length < 500);
  });
});

describe('bitbucketSshUrl', () => {
  it('writes the form Valohai wants', () => {
    assert.equal(bitbucketSshUrl('acme', 'models'), 'git@bitbucket.org:acme/models.git');
    assert.equal(bitbucketSshUrl('Acme_1', 'My.Repo-2'), 'git@bitbucket.org:Acme_1/My.Repo-2.git');
  });

  it('round-trips through parseRepoUrl', () => {
    const parsed = parseRepoUrl(bitbucketSshUrl('acme', 'models'));
    assert.deepEqual([parsed.workspace, parsed.slug, parsed.protocol, parsed.isBitbucket], ['acme', 'models', 'ssh', true]);
  });

  it('refuses names that would build another path', () => {
    for (const [ws, slug] of [['acme', '../x'], ['ac/me', 'x'], ['', 'x'], ['acme', ''], ['acme', '..'], ['acme', 'a b'], ['acme.x', 'y']]) {
      assert.throws(() => bitbucketSshUrl(ws ?? '', slug ?? ''), InvalidRepoUrlError, `${ws}/${slug}`);
    }
  });
});
