/**
 * Differential test of the git-config reader behind parseGitmodules: generated files, valid and
 * corrupted, read by both `git config -f FILE --list -z` and parseGitConfig, must give the same
 * entries, or both be refused on the same line.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGitConfig } from '../../src/git/git-config';
import { GitmodulesSyntaxError, parseGitmodules, resolveSubmoduleUrl } from '../../src/git/index';
import { prng, runGit, tempDir } from './git-cli';

type Outcome = { entries: string[] } | { errorLine: number };

function gitRead(dir: string, text: string): Outcome {
  const file = join(dir, 'config');
  writeFileSync(file, text, 'utf8');
  const result = runGit(['config', '-f', file, '--list', '-z'], dir);
  if (result.status !== 0) {
    const line = /bad config line ([0-9]+)/.exec(result.stderr);
    assert.ok(line, `git failed without a line number: ${result.stderr}`);
    return { errorLine: Number(line[1]) };
  }
  return { entries: result.stdout.split('\0').filter((r) => r !== '').map((r) => r.replace('\n', '=')) };
}

function oursRead(text: string): Outcome {
  try {
    return { entries: parseGitConfig(text).map((e) => (e.value === null ? e.name : `${e.name}=${e.value}`)) };
  } catch (err) {
    assert.ok(err instanceof GitmodulesSyntaxError, String(err));
    return { errorLine: err.line };
  }
}

/** Lines in the file: git names one past the last line when the file ends inside a header. */
function lastLine(text: string): number {
  const lines = text.split('\n').length;
  return text.endsWith('\n') ? lines - 1 : lines;
}

/**
 * The one place where our line number differs on purpose: a header like `[submodule "a"` that ends
 * right after the closing quote. git has already read the line break and names the next line; we
 * name the header's own line, which is the one to fix.
 */
function headerEndsAtQuote(text: string, ourLine: number, gitLine: number): boolean {
  const line = text.replace(/^\uFEFF/, '').split('\n')[ourLine - 1]?.replace(/\r$/, '') ?? '';
  return gitLine === ourLine + 1 && line.trimStart().startsWith('[') && line.endsWith('"');
}

function generator(seed: number) {
  const rnd = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const chance = (p: number): boolean => rnd() < p;

  const nameChar = () => pick(['a', 'B', 'z', '0', '-', '.', '/', ' ', '\\"', '\\\\', '\\x', 'é', '#', ';', '=', '[', ']']);
  const name = () => Array.from({ length: 1 + Math.floor(rnd() * 8) }, nameChar).join('');
  const legacy = () => Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => pick(['a', 'B', '1', '-', '.'])).join('');
  const header = () =>
    pick([
      () => `[submodule "${name()}"]`,
      () => `[SubModule\t"${name()}"]`,
      () => `[submodule   "${name()}"]`,
      () => `[submodule.${legacy()}]`,
      () => `[core]`,
      () => `[remote "origin"]`,
      () => `[${pick(['Foo', 'a-b', 'x.Y'])}]`,
      () => `[submodule "${name()}"] # comment`,
    ])();
  const key = () => pick(['path', 'url', 'branch', 'URL', 'Path', 'update', 'fetchRecurseSubmodules', 'shallow', 'ignore', 'a1', 'x-y']);
  const valuePiece = () =>
    pick([
      () => pick(['git@bitbucket.org:acme/lib.git', '../lib.git', 'main', 'a', 'dir/sub', 'é€']),
      () => pick([' ', '  ', '\t', ' \t ']),
      () => `"${pick(['a b', ' # not a comment ', '; x', '', '  ', 'x\\"y', 'tab\\there'])}"`,
      () => pick(['\\\\', '\\"', '\\n', '\\t', '\\b']),
      () => `\\\n${pick(['', '  ', 'cont'])}`,
      () => pick(['=', '[x]', "'", 'a=b']),
    ])();
  const value = () => Array.from({ length: Math.floor(rnd() * 5) }, valuePiece).join('');
  const entry = () => {
    const indent = pick(['', '\t', '  ', ' \t']);
    if (chance(0.1)) return `${indent}${key()}${pick(['', ' ', '\t'])}`;
    const eq = pick(['=', ' = ', '\t=\t', '  =', '= ']);
    const comment = chance(0.2) ? pick([' # c', ' ; c', '#c', '\t; "x']) : '';
    return `${indent}${key()}${eq}${value()}${comment}`;
  };
  const file = (): string => {
    const lines: string[] = [];
    if (chance(0.3)) lines.push(pick(['# top comment', '; another', '']));
    const sections = 1 + Math.floor(rnd() * 5);
    for (let s = 0; s < sections; s++) {
      lines.push(header());
      const n = Math.floor(rnd() * 5);
      for (let i = 0; i < n; i++) lines.push(chance(0.1) ? pick(['', '   ', '# x', '\t; y']) : entry());
    }
    const eol = chance(0.3) ? '\r\n' : '\n';
    return (chance(0.1) ? '\uFEFF' : '') + lines.join(eol) + (chance(0.8) ? eol : '');
  };
  const corrupt = (text: string): string => {
    const at = Math.floor(rnd() * (text.length + 1));
    const junk = pick(['"', '\\', '\\q', '[', ']', '_', '!', '\n[', '\n]', ' ', '=', '\n1', '\r', '\n"', '\\\n', '.', '\n=x']);
    return text.slice(0, at) + junk + text.slice(at);
  };
  return { file, corrupt };
}

describe('git-config reader against real git (git config --list)', () => {
  const dir = tempDir('vb-git-config-');
  const counts = { valid: 0, refused: 0 };
  after(() => {
    dir.remove();
    console.log(`# git-config differential: ${counts.valid} files read alike, ${counts.refused} refused alike on the same line`);
  });

  function compare(text: string, mismatches: string[]): void {
    const theirs = gitRead(dir.path, text);
    const ours = oursRead(text);
    if ('errorLine' in theirs) {
      const line = Math.min(theirs.errorLine, Math.max(1, lastLine(text)));
      if (!('errorLine' in ours) || (ours.errorLine !== line && !headerEndsAtQuote(text, ours.errorLine, line))) {
        mismatches.push(`${JSON.stringify(text)}: git refuses line ${line}, ours ${JSON.stringify(ours)}`);
      }
      counts.refused++;
    } else {
      if (!('entries' in ours) || JSON.stringify(ours.entries) !== JSON.stringify(theirs.entries)) {
        mismatches.push(`${JSON.stringify(text)}: git ${JSON.stringify(theirs.entries)}, ours ${JSON.stringify(ours)}`);
      }
      counts.valid++;
    }
  }

  it('reads generated files as git does', () => {
    const { file } = generator(20240601);
    const mismatches: string[] = [];
    for (let i = 0; i < 150; i++) compare(file(), mismatches);
    assert.deepEqual(mismatches, []);
  });

  it('refuses corrupted files where git does, on the same line', () => {
    const { file, corrupt } = generator(7);
    const mismatches: string[] = [];
    for (let i = 0; i < 150; i++) compare(corrupt(corrupt(file())), mismatches);
    assert.deepEqual(mismatches, []);
  });

  it('agrees with git on hand-picked corner cases', () => {
    const mismatches: string[] = [];
    for (const text of [
      '[ "x"]\na=1\n',
      'a=1\n[s]b\n',
      '[s]k=1[x]\n',
      '[s]\na = 1 2 " 3 " ; x\n',
      '[s]\na=b\\',
      '[s]\na = \\\\\\',
      '[s]\n\ta = "x\\\ny"\n',
      '[s]\na \\\n= b\n',
      '[s "a\nb"]\nk=1\n',
      '[core',
      '[core]\nkey = a\rb\n',
      '[s]\nk\r= v\n',
      '[s]\r\nk = "a\r\n',
      '\uFEFF\uFEFF[s]\n',
      '[s]\n\u00e9 = 1\n',
      '[s.]\nk=1\n',
      '[.]\nk=1\n',
      '[s "\\\\"]\nk=1\n',
      '[s "a"\nk=1\n',
    ]) {
      compare(text, mismatches);
    }
    assert.deepEqual(mismatches, []);
  });
});

describe('parseGitmodules against real git (git submodule init)', () => {
  it('registers the same submodules with the same URLs', () => {
    const dir = tempDir('vb-gitmodules-init-');
    try {
      const repo = dir.path;
      const remote = 'git@bitbucket.org:acme/super.git';
      const text = [
        '\uFEFF# merged, later url wins',
        '[submodule "a"]',
        '\tpath = pa',
        '\turl = git@bitbucket.org:acme/first.git',
        '\turl = ../second.git',
        '[submodule "with space \\"q\\""]',
        '\tpath = "pb"',
        '\turl = ../b.git ; comment',
        '[submodule.Legacy.Name]',
        '\tpath = pc',
        '\turl = ./c\\',
        '.git',
        '[SUBMODULE "a"] URL = ../../other/third.git',
        '[submodule "../evil"]',
        '\turl = git@bitbucket.org:acme/evil.git',
        '[submodule "e"]\r',
        '\tpath = pe\r',
        '\turl = "https://bitbucket.org/acme/e.git" # https\r',
        '',
      ].join('\n');
      writeFileSync(join(repo, '.gitmodules'), text);
      assert.equal(runGit(['init', '-q'], repo).status, 0);
      assert.equal(runGit(['config', 'remote.origin.url', remote], repo).status, 0);
      const sha = '2'.repeat(40);
      const index = ['pa', 'pb', 'pc', 'pe'].map((p) => `160000 ${sha}\t${p}\n`).join('');
      assert.equal(runGit(['update-index', '--index-info'], repo, index).status, 0);
      const init = runGit(['submodule', 'init'], repo);
      assert.equal(init.status, 0, init.stderr);
      const listed = runGit(['config', '-z', '--get-regexp', '^submodule\\..*\\.url$'], repo);
      const theirs = new Map(
        listed.stdout
          .split('\0')
          .filter((r) => r !== '')
          .map((r) => {
            const nl = r.indexOf('\n');
            return [r.slice('submodule.'.length, nl - '.url'.length), r.slice(nl + 1)] as const;
          }),
      );
      const ours = new Map(parseGitmodules(text).map((sub) => [sub.name, resolveSubmoduleUrl(remote, sub.url ?? '')]));
      assert.deepEqual(ours, theirs);
      assert.equal(ours.get('a'), 'git@bitbucket.org:other/third.git');
      assert.equal(ours.get('legacy.name'), 'git@bitbucket.org:acme/super.git/c.git');
    } finally {
      dir.remove();
    }
  });
});
