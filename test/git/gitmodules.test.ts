import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_GITMODULES_MAX_BYTES,
  GitmodulesSyntaxError,
  GitmodulesTooLargeError,
  parseGitmodules,
} from '../../src/git/index';
import type { GitmodulesSyntaxReason, Submodule } from '../../src/git/index';

const HOSTILE = { timeout: 20_000 };

function syntaxError(reason: GitmodulesSyntaxReason, line: number) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof GitmodulesSyntaxError, `expected GitmodulesSyntaxError, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    assert.equal(e.line, line, e.message);
    assert.match(e.message, new RegExp(`^\\.gitmodules line ${line}: `));
    return true;
  };
}

describe('parseGitmodules: what git accepts', () => {
  it('reads submodules with path, url, branch and the lines they are on', () => {
    const text = [
      '[submodule "libs/training"]',
      '\tpath = libs/training',
      '\turl = git@bitbucket.org:acme/training.git',
      '\tbranch = main',
      '[submodule "data"]',
      '\tpath = data',
      '\turl = ../datasets.git',
      '',
    ].join('\n');
    assert.deepEqual(parseGitmodules(text), [
      { name: 'libs/training', path: 'libs/training', url: 'git@bitbucket.org:acme/training.git', urlLine: 3, branch: 'main', line: 1 },
      { name: 'data', path: 'data', url: '../datasets.git', urlLine: 7, line: 5 },
    ]);
  });

  it('reads names with spaces, dots, escaped quotes and backslashes', () => {
    const text = '[submodule "my lib v1.2"]\n url = a\n[submodule "say \\"hi\\""]\n url = b\n[submodule "back\\\\slash\\x"]\n url = c\n';
    assert.deepEqual(
      parseGitmodules(text).map((s) => s.name),
      ['my lib v1.2', 'say "hi"', 'back\\slashx'],
    );
  });

  it('reads quoted values with escapes, and comments outside quotes', () => {
    const text = [
      '[submodule "a"]',
      '  url = "git@bitbucket.org:acme/a.git" # the training code',
      '  path = "dir with # and ; inside" ; comment',
      '  branch = "tab\\there" and \\"more\\" \\\\ x\\ny',
    ].join('\n');
    const [sub] = parseGitmodules(text);
    assert.equal(sub?.url, 'git@bitbucket.org:acme/a.git');
    assert.equal(sub?.path, 'dir with # and ; inside');
    assert.equal(sub?.branch, 'tab\there and "more" \\ x\ny');
  });

  it('treats section and key names without regard to case, and keeps the name case', () => {
    const [sub] = parseGitmodules('[SubModule "Lib"]\n\tURL = x\n\tPath = p\n\tBRANCH = b\n');
    assert.deepEqual(sub, { name: 'Lib', url: 'x', urlLine: 2, path: 'p', branch: 'b', line: 1 });
  });

  it('accepts bare keys (boolean true) that submodules do not need a value for', () => {
    const subs = parseGitmodules('[submodule "a"]\n\tshallow\n\turl = x\n\tfetchRecurseSubmodules\n');
    assert.deepEqual(subs, [{ name: 'a', url: 'x', urlLine: 3, line: 1 }]);
  });

  it('accepts any whitespace around =, and an empty value', () => {
    const [a, b] = parseGitmodules('[submodule "a"]\nurl=x\npath\t=\t p  \n[submodule "b"]\n url =\n');
    assert.equal(a?.url, 'x');
    assert.equal(a?.path, 'p');
    assert.equal(b?.url, '');
  });

  it('folds whitespace inside values as git does and trims it at the ends', () => {
    const [sub] = parseGitmodules('[submodule "a"]\n path =   a  \t b   # c\n url = "  kept  "\n');
    assert.equal(sub?.path, 'a    b');
    assert.equal(sub?.url, '  kept  ');
  });

  it('reads CRLF files and a byte order mark', () => {
    const subs = parseGitmodules('\uFEFF[submodule "a"]\r\n\tpath = a\r\n\turl = x\r\n\r\n[submodule "b"]\r\n\turl = y\r\n');
    assert.deepEqual(subs, [
      { name: 'a', path: 'a', url: 'x', urlLine: 3, line: 1 },
      { name: 'b', url: 'y', urlLine: 6, line: 5 },
    ]);
  });

  it('joins continued lines and keeps counting lines after them', () => {
    const text = '[submodule "a"]\n url = git@bitbucket.org:\\\nacme/\\\n   lib.git\n[submodule "b"]\n url = y\n';
    assert.deepEqual(parseGitmodules(text), [
      { name: 'a', url: 'git@bitbucket.org:acme/   lib.git', urlLine: 2, line: 1 },
      { name: 'b', url: 'y', urlLine: 6, line: 5 },
    ]);
  });

  it('ignores other sections, keys before any section, and submodule keys without a name', () => {
    const text = 'url = stray\n[core]\n\turl = no\n[remote "origin"]\n\turl = no\n[submodule]\n\turl = no\n[submodule "a"]\n\turl = yes\n';
    assert.deepEqual(parseGitmodules(text), [{ name: 'a', url: 'yes', urlLine: 9, line: 8 }]);
  });

  it('keeps a submodule without url', () => {
    assert.deepEqual(parseGitmodules('[submodule "a"]\n\tpath = a\n'), [{ name: 'a', path: 'a', line: 1 }]);
  });

  it('merges repeated sections of one name, later values winning (as git submodule init does)', () => {
    const text = '[submodule "a"]\n\tpath = a\n\turl = ../first.git\n\turl = ../second.git\n[submodule "b"]\n\turl = b\n[submodule "a"]\n\turl = ../third.git\n';
    assert.deepEqual(parseGitmodules(text), [
      { name: 'a', path: 'a', url: '../third.git', urlLine: 8, line: 1 },
      { name: 'b', url: 'b', urlLine: 6, line: 5 },
    ]);
  });

  it('reads the legacy [submodule.name] form, lower-cased as git reads it', () => {
    assert.deepEqual(parseGitmodules('[submodule.Libs.Core]\n\turl = x\n'), [{ name: 'libs.core', url: 'x', urlLine: 2, line: 1 }]);
  });

  it('reads a key on the header line', () => {
    assert.deepEqual(parseGitmodules('[submodule "a"] url = x\n'), [{ name: 'a', url: 'x', urlLine: 1, line: 1 }]);
  });

  it('skips names git ignores as suspicious', () => {
    const text = '[submodule "../evil"]\n url = x\n[submodule "a/../b"]\n url = x\n[submodule "a\\\\..\\\\b"]\n url = x\n[submodule ""]\n url = x\n[submodule "ok..name"]\n url = y\n';
    assert.deepEqual(parseGitmodules(text).map((s) => s.name), ['ok..name']);
  });

  it('reads an empty file and a file of comments as no submodules', () => {
    assert.deepEqual(parseGitmodules(''), []);
    assert.deepEqual(parseGitmodules('# nothing here\n; nor here\n\n'), []);
  });
});

describe('parseGitmodules: what git refuses', () => {
  const cases: [string, string, GitmodulesSyntaxReason, number][] = [
    ['unterminated quote', '[submodule "a"]\n\tpath = a\n\turl = "git@bitbucket.org:a/b.git\n', 'unterminated-quote', 3],
    ['unterminated quote at end of file', '[submodule "a"]\n\turl = "x', 'unterminated-quote', 2],
    ['unterminated quote after a continuation', '[submodule "a"]\n\turl = "x\\\ny\n', 'unterminated-quote', 3],
    ['unknown escape', '[submodule "a"]\n\tpath = C:\\dir\n', 'bad-escape', 2],
    ['header without ]', '[submodule "a"\n\turl = x\n', 'bad-section-header', 1],
    ['header without ] at end of file', '\n[submodule', 'bad-section-header', 2],
    ['header name not quoted', '[submodule a]\nurl = x\n', 'bad-section-header', 1],
    ['space after the quoted name', '[submodule "a" ]\nurl = x\n', 'bad-section-header', 1],
    ['space before the section name', '[ submodule "a"]\nurl = x\n', 'bad-section-header', 1],
    ['empty header', '\n\n[]\n', 'bad-section-header', 3],
    ['quoted name not closed', '[submodule "a]\nurl = x\n', 'unterminated-quote', 1],
    ['bad character in section name', '[sub_module "a"]\n', 'bad-section-header', 1],
    ['underscore in key', '[submodule "a"]\n\tfetch_recurse = true\n', 'invalid-key', 2],
    ['key starting with a digit', '[submodule "a"]\n\t1url = x\n', 'invalid-key', 2],
    ['key followed by a comment', '[submodule "a"]\n\turl # x\n', 'invalid-key', 2],
    ['key with a dot', '[submodule "a"]\n\turl.x = y\n', 'invalid-key', 2],
    ['stray character', '[submodule "a"]\n\turl = x\n!\n', 'unexpected-character', 3],
    ['bare url', '[submodule "a"]\n\tpath = a\n\turl\n', 'missing-value', 3],
    ['bare path', '[submodule "a"]\n\tpath\n', 'missing-value', 2],
    ['bare branch', '[submodule "a"]\n\turl = x\n\tbranch\n', 'missing-value', 3],
    ['NUL byte', '[submodule "a"]\n\tpath = a\n\turl = x\0y\n', 'nul-byte', 3],
    ['NUL byte in a header', '\0[submodule "a"]\n', 'nul-byte', 1],
    ['line continuation inside a header', '[submodule "a\\\n"]\n', 'unterminated-quote', 1],
  ];
  for (const [what, text, reason, line] of cases) {
    it(`${what}: ${reason} on line ${line}`, () => {
      assert.throws(() => parseGitmodules(text), syntaxError(reason, line));
    });
  }

  it('says how to fix the line, and never repeats the value (it may hold a password)', () => {
    assert.throws(
      () => parseGitmodules('[submodule "a"]\n\turl = "https://me:s3cret@bitbucket.org/a/b.git\n'),
      (e: unknown) => e instanceof GitmodulesSyntaxError && /close/i.test(e.message) && !e.message.includes('s3cret'),
    );
    assert.throws(
      () => parseGitmodules('[submodule "a"]\n\turl\n'),
      (e: unknown) => e instanceof GitmodulesSyntaxError && e.message.includes('url = git@bitbucket.org:workspace/repo.git'),
    );
  });
});

describe('parseGitmodules: hostile input', () => {
  it('refuses more than 1 MiB with a clear error', HOSTILE, () => {
    const huge = '[submodule "a"]\n\turl = x\n'.repeat(250_000); // about 6 MB
    assert.throws(
      () => parseGitmodules(huge),
      (e: unknown) =>
        e instanceof GitmodulesTooLargeError &&
        e.limit === DEFAULT_GITMODULES_MAX_BYTES &&
        e.bytes === huge.length &&
        e.message.includes(`${DEFAULT_GITMODULES_MAX_BYTES} bytes`),
    );
  });

  it('counts the limit in UTF-8 bytes, not characters', () => {
    const text = `[submodule "a"]\n\tpath = ${'€'.repeat(400_000)}\n`; // 400k characters, 1.2 MB
    assert.throws(() => parseGitmodules(text), (e: unknown) => e instanceof GitmodulesTooLargeError && e.bytes > 1_200_000);
  });

  it('takes a smaller limit when asked', () => {
    const text = '[submodule "a"]\n\turl = x\n';
    assert.equal(parseGitmodules(text, { maxBytes: text.length }).length, 1);
    assert.throws(() => parseGitmodules(text, { maxBytes: text.length - 1 }), GitmodulesTooLargeError);
  });

  it('reads a file just under the limit: thousands of sections', HOSTILE, () => {
    const one = (i: number) => `[submodule "lib ${i}"]\n\tpath = libs/${i}\n\turl = git@bitbucket.org:acme/lib-${i}.git\n`;
    const parts: string[] = [];
    let size = 0;
    for (let i = 0; size + one(i).length <= DEFAULT_GITMODULES_MAX_BYTES; i++) {
      parts.push(one(i));
      size += one(i).length;
    }
    const subs = parseGitmodules(parts.join(''));
    assert.ok(subs.length > 10_000);
    assert.equal(subs.length, parts.length);
    assert.deepEqual(subs.at(-1), {
      name: `lib ${parts.length - 1}`,
      path: `libs/${parts.length - 1}`,
      url: `git@bitbucket.org:acme/lib-${parts.length - 1}.git`,
      urlLine: 3 * parts.length,
      line: 3 * parts.length - 2,
    });
  });

  it('reads 5,000 sections, and 5,000 repeats of one section as one submodule', HOSTILE, () => {
    const many = Array.from({ length: 5000 }, (_, i) => `[submodule "s${i}"]\n url = u${i}\n`).join('');
    assert.equal(parseGitmodules(many).length, 5000);
    const same = Array.from({ length: 5000 }, (_, i) => `[submodule "s"]\n url = u${i}\n`).join('');
    assert.deepEqual(parseGitmodules(same), [{ name: 's', url: 'u4999', urlLine: 10_000, line: 1 }]);
  });

  it('reads 10,000-character lines: name, key, value', HOSTILE, () => {
    const long = 'x'.repeat(10_000);
    const subs = parseGitmodules(`[submodule "${long}"]\n\turl = git@bitbucket.org:acme/${long}.git\n\ta${long} = 1\n`);
    assert.equal(subs[0]?.name, long);
    assert.equal(subs[0]?.url, `git@bitbucket.org:acme/${long}.git`);
  });

  it('reports a bad key 10,000 characters long with a short message', () => {
    assert.throws(
      () => parseGitmodules(`[submodule "a"]\n\t${'k'.repeat(10_000)}_ = 1\n`),
      (e: unknown) => e instanceof GitmodulesSyntaxError && e.line === 2 && e.message.length < 300,
    );
  });

  it('reads deeply repeated quotes: an even number closes, an odd one does not', HOSTILE, () => {
    const even = `[submodule "a"]\n\turl = ${'"'.repeat(200_000)}x\n`;
    assert.equal(parseGitmodules(even)[0]?.url, 'x');
    const odd = `[submodule "a"]\n\turl = ${'"'.repeat(200_001)}x\n[submodule "b"]\n`;
    assert.throws(() => parseGitmodules(odd), syntaxError('unterminated-quote', 2));
  });

  it('reads 100,000 continuation lines as one value, and counts them', HOSTILE, () => {
    const text = `[submodule "a"]\n\tpath = ${'a\\\n'.repeat(100_000)}b\n\turl = x\n`;
    const [sub] = parseGitmodules(text);
    assert.equal(sub?.path, `${'a'.repeat(100_000)}b`);
    assert.equal(sub?.urlLine, 100_003);
  });

  it('finds a NUL byte deep in a large file and names its line', HOSTILE, () => {
    const text = `${'[submodule "a"]\n\turl = x\n'.repeat(20_000)}\turl = \0\n`;
    assert.throws(() => parseGitmodules(text), syntaxError('nul-byte', 40_001));
  });

  it('fails fast on a file of nothing but brackets, quotes or backslashes', HOSTILE, () => {
    assert.throws(() => parseGitmodules('['.repeat(500_000)), GitmodulesSyntaxError);
    assert.throws(() => parseGitmodules('"'.repeat(500_000)), syntaxError('unexpected-character', 1));
    assert.throws(() => parseGitmodules(`[a]\nk = ${'\\'.repeat(500_001)}q`), syntaxError('bad-escape', 2));
    assert.equal(parseGitmodules(`[submodule "a"]\nurl = ${'\\'.repeat(500_001)}`)[0]?.url, '\\'.repeat(250_000));
    assert.throws(() => parseGitmodules(`[submodule "${'\\"'.repeat(250_000)}`), syntaxError('unterminated-quote', 1));
  });

  it('reads a binary-looking file (no NUL) as a syntax error on its first bad line', () => {
    const bytes = Array.from({ length: 4096 }, (_, i) => String.fromCharCode(1 + ((i * 7919) % 254))).join('');
    assert.throws(() => parseGitmodules(bytes), GitmodulesSyntaxError);
  });
});

describe('parseGitmodules: result shape', () => {
  it('gives plain objects that survive JSON (job records store them)', () => {
    const subs: Submodule[] = parseGitmodules('[submodule "a"]\n\tpath = a\n\turl = x\n');
    assert.deepEqual(JSON.parse(JSON.stringify(subs)), subs);
  });
});
