import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RelativeUrlError, resolveSubmoduleUrl } from '../../src/git/index';
import { configQuote, runGit, tempDir } from './git-cli';

describe('resolveSubmoduleUrl', () => {
  const cases: [string, string, string][] = [
    ['git@bitbucket.org:ws/repo.git', '../lib.git', 'git@bitbucket.org:ws/lib.git'],
    ['git@bitbucket.org:ws/repo.git', './lib.git', 'git@bitbucket.org:ws/repo.git/lib.git'],
    ['git@bitbucket.org:ws/repo.git', '../../other/lib.git', 'git@bitbucket.org:other/lib.git'],
    ['git@bitbucket.org:ws/repo.git/', '../lib.git', 'git@bitbucket.org:ws/lib.git'],
    ['ssh://git@bitbucket.org/ws/repo', '../lib', 'ssh://git@bitbucket.org/ws/lib'],
    ['ssh://git@bitbucket.org/ws/repo', '../../other/lib.git', 'ssh://git@bitbucket.org/other/lib.git'],
    ['https://bitbucket.org/ws/repo.git', '../lib.git', 'https://bitbucket.org/ws/lib.git'],
    ['https://bitbucket.org/ws/repo/', './', 'https://bitbucket.org/ws/repo/'],
    ['https://bitbucket.org/ws/repo', '../lib/', 'https://bitbucket.org/ws/lib'],
    ['https://bitbucket.org/ws/repo', './../lib', 'https://bitbucket.org/ws/lib'],
    // git keeps what is left once ../ runs past the path: these are what git itself would fetch
    ['git@bitbucket.org:ws/repo.git', '../../../lib.git', '.:lib.git'],
    ['ssh://git@host:2222/a/b/c.git', '../../../../x', 'ssh://x'],
    ['https://bitbucket.org/ws/repo', '../..', 'https://bitbucket.org/ws/..'],
    ['foo/bar', '../x', 'foo/x'],
    ['/srv/repo', '../x', '/srv/x'],
  ];
  for (const [superproject, url, want] of cases) {
    it(`${superproject} + ${url} -> ${want}`, () => {
      assert.equal(resolveSubmoduleUrl(superproject, url), want);
    });
  }

  it('returns absolute URLs and names without ./ or ../ as written', () => {
    for (const url of ['git@bitbucket.org:ws/x.git', 'https://bitbucket.org/ws/x', '/srv/x', 'x', '..', '.', '', '.hidden/x']) {
      assert.equal(resolveSubmoduleUrl('git@bitbucket.org:ws/repo.git', url), url);
    }
  });

  it('throws where git fails: more ../ than the URL has parts', () => {
    for (const [superproject, url] of [
      ['git@bitbucket.org:ws/repo.git', '../../../../x.git'],
      ['foo', '../../x'],
      ['../foo', '../../x'],
      ['ssh://git@host:2222/a/b/c.git', '../../../../../../../../x'],
    ] as const) {
      assert.throws(
        () => resolveSubmoduleUrl(superproject, url),
        (e: unknown) => e instanceof RelativeUrlError && e.message.includes('../'),
        `${superproject} + ${url}`,
      );
    }
  });

  it('throws for a relative URL without a superproject URL', () => {
    assert.throws(() => resolveSubmoduleUrl('', '../x'), RelativeUrlError);
  });

  it('does not repeat a password of the superproject URL in its error', () => {
    assert.throws(
      () => resolveSubmoduleUrl('https://u:topsecret@bitbucket.org/ws', '../../../../../../../x'),
      (e: unknown) => e instanceof RelativeUrlError && !e.message.includes('topsecret') && !e.superprojectUrl.includes('topsecret'),
    );
  });

  it('handles a hostile chain of 200,000 ../ in linear time', { timeout: 10_000 }, () => {
    const remote = `ssh://git@bitbucket.org/${'a/'.repeat(100_000)}repo`;
    assert.equal(resolveSubmoduleUrl(remote, `${'../'.repeat(100_001)}x`), 'ssh://git@bitbucket.org/x');
    assert.throws(() => resolveSubmoduleUrl(remote, `${'../'.repeat(200_000)}x`), RelativeUrlError);
  });
});

/** Superproject URLs: the forms Bitbucket hands out, plus the odd ones git still accepts. */
const SUPERPROJECTS = [
  'git@bitbucket.org:ws/repo.git',
  'git@bitbucket.org:ws/repo',
  'git@bitbucket.org:ws/repo.git/',
  'git@bitbucket.org:repo.git',
  'ssh://git@bitbucket.org/ws/repo',
  'ssh://git@bitbucket.org/ws/repo.git/',
  'ssh://git@host:2222/a/b/c.git',
  'https://bitbucket.org/ws/repo.git',
  'https://user@bitbucket.org/ws/repo',
  'https://bitbucket.org/ws/repo/',
  'https://bitbucket.org/ws/repo//',
  'http://host/a/',
  'git@host:',
  'a:/b',
  'foo/bar',
  './foo',
  '../foo',
  '/srv/repo',
  '.',
];

function submoduleUrls(): string[] {
  const prefixes = [''];
  for (let depth = 1; depth <= 5; depth++) prefixes.push('../'.repeat(depth));
  prefixes.push('./', './../', '.././', '../.././../');
  const tails = ['x.git', 'other/x', 'x//'];
  const urls = new Set<string>();
  for (const prefix of prefixes) {
    if (prefix === '') continue;
    for (const tail of tails) urls.add(prefix + tail);
    urls.add(prefix);
  }
  for (const odd of ['..', '../..', '../../..', './/x', './/', '.\\x', '..\\x', '.\\a:b', './a:b', '../a:b']) urls.add(odd);
  return [...urls];
}

interface Outcome {
  url?: string;
  error?: boolean;
}

describe('resolveSubmoduleUrl against real git (git submodule init)', () => {
  const dir = tempDir('vb-git-relurl-');
  const SHA = '1'.repeat(40);
  let cases = 0;
  let refusalsRun = 0;
  let refusalsCovered = 0;

  before(() => {
    assert.equal(runGit(['--version'], dir.path).status, 0, 'git must be on PATH');
  });
  after(() => {
    dir.remove();
    console.log(
      `# relative-URL differential: ${cases} resolved URLs equal to git's; ${refusalsCovered} refusals, ` +
        `${refusalsRun} of them (one per superproject and depth of ../) confirmed by running git`,
    );
  });

  /** One superproject, many submodules, one `git submodule init`. */
  function gitResolve(repoName: string, superproject: string, urls: string[]): Map<number, Outcome> {
    const repo = join(dir.path, repoName);
    assert.equal(runGit(['init', '-q', repo], dir.path).status, 0);
    appendFileSync(join(repo, '.git', 'config'), `[remote "origin"]\n\turl = ${configQuote(superproject)}\n`);
    const index = urls.map((_, i) => `160000 ${SHA}\tp${i}\n`).join('');
    assert.equal(runGit(['update-index', '--index-info'], repo, index).status, 0);
    writeFileSync(
      join(repo, '.gitmodules'),
      urls.map((url, i) => `[submodule "s${i}"]\n\tpath = p${i}\n\turl = ${configQuote(url)}\n`).join(''),
    );
    const init = runGit(['submodule', 'init'], repo);
    const out = new Map<number, Outcome>();
    if (init.status !== 0) {
      for (let i = 0; i < urls.length; i++) out.set(i, { error: true });
      return out;
    }
    const listed = runGit(['config', '-z', '--get-regexp', '^submodule\\.s[0-9]+\\.url$'], repo);
    assert.equal(listed.status, 0, listed.stderr);
    for (const record of listed.stdout.split('\0')) {
      if (!record) continue;
      const nl = record.indexOf('\n');
      const i = Number(/^submodule\.s([0-9]+)\.url$/.exec(record.slice(0, nl))?.[1]);
      out.set(i, { url: record.slice(nl + 1) });
    }
    return out;
  }

  function ours(superproject: string, url: string): Outcome {
    try {
      return { url: resolveSubmoduleUrl(superproject, url) };
    } catch (err) {
      assert.ok(err instanceof RelativeUrlError, String(err));
      return { error: true };
    }
  }

  it('gives what git gives for every superproject × relative URL combination', () => {
    const urls = submoduleUrls();
    const mismatches: string[] = [];
    SUPERPROJECTS.forEach((superproject, s) => {
      const expected = urls.map((url) => ours(superproject, url));
      // A case git refuses makes the whole init fail, so those run one at a time (in a repo made once)
      // and the rest in one batch. A wrong prediction either way shows up as a mismatch.
      const batch = urls.filter((_, i) => !expected[i]?.error);
      assert.ok(batch.length > 0);
      const batchResult = gitResolve(`b${s}`, superproject, batch);
      batch.forEach((url, i) => {
        cases++;
        const want = batchResult.get(i);
        const got = ours(superproject, url);
        if (want?.url !== got.url) mismatches.push(`${superproject} + ${url}: git ${JSON.stringify(want)}, ours ${JSON.stringify(got)}`);
      });
      // Whether git refuses depends only on how many ../ a URL has (each one chops one component),
      // so one URL per depth is run through git; the others at that depth must agree with it.
      const byDepth = new Map<number, string[]>();
      urls.forEach((url, i) => {
        if (!expected[i]?.error) return;
        const depth = (url.match(/\.\.\//g) ?? []).length;
        byDepth.set(depth, [...(byDepth.get(depth) ?? []), url]);
      });
      // The batch repository is reused: a fresh submodule name for path p0 is not registered yet.
      const repo = join(dir.path, `b${s}`);
      for (const [depth, refused] of byDepth) {
        const url = refused[0] ?? '';
        writeFileSync(join(repo, '.gitmodules'), `[submodule "r${depth}"]\n\tpath = p0\n\turl = ${configQuote(url)}\n`);
        const init = runGit(['submodule', 'init'], repo);
        refusalsRun++;
        refusalsCovered += refused.length;
        if (init.status === 0) mismatches.push(`${superproject} + ${url} (depth ${depth}): git accepts it, ours refuses`);
        else if (!init.stderr.includes('cannot strip one component')) mismatches.push(`${superproject} + ${url}: git fails otherwise: ${init.stderr}`);
      }
    });
    assert.deepEqual(mismatches, []);
    assert.ok(cases >= 200, `only ${cases} cases`);
    assert.ok(refusalsRun >= 10, `only ${refusalsRun} refusals run`);
  });
});
