import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { branchOfRef, fetchRefProblem, isValidRef, REF_MAX_LENGTH } from '../../src/git/index';

describe('isValidRef', () => {
  it('takes branch and tag names, refs/... and commit hashes', () => {
    for (const ok of ['main', 'release/2.0', 'v1.2.3', 'refs/heads/main', 'refs/tags/v1', '4f2a9c1d8e7b', 'a'.repeat(REF_MAX_LENGTH)]) {
      assert.ok(isValidRef(ok), ok);
    }
  });

  it('refuses what git check-ref-format refuses, and what is too long', () => {
    const bad = ['', '-x', 'a..b', 'a b', 'a\tb', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b', 'a\u0001b', 'a\u007fb', 'x.lock', 'x/y.lock',
      '/main', 'main/', 'main.', 'a//b', '.hidden', 'a/.b', 'a@{1}', '@', 'a'.repeat(REF_MAX_LENGTH + 1)];
    for (const ref of bad) assert.ok(!isValidRef(ref), JSON.stringify(ref));
  });
});

describe('branchOfRef', () => {
  it('takes refs/heads/<branch> as that branch and leaves anything else as it is', () => {
    assert.equal(branchOfRef('refs/heads/main'), 'main');
    assert.equal(branchOfRef('refs/heads/feature/x'), 'feature/x');
    assert.equal(branchOfRef('main'), 'main');
    assert.equal(branchOfRef('refs/tags/v1'), 'refs/tags/v1');
    assert.equal(branchOfRef('heads/refs/heads/x'), 'heads/refs/heads/x');
  });
});

describe('fetchRefProblem', () => {
  it('accepts a branch by name or as refs/heads/<branch>', () => {
    for (const ok of ['main', 'feature/data', 'refs/heads/main', 'refs/heads/release/2.0', '4f2a9c1d']) assert.equal(fetchRefProblem(ok), null, ok);
  });

  it('names a commit id, a tag and another kind of ref for what they are', () => {
    const sha1 = '4f2a9c1d8e7b4f2a9c1d8e7b4f2a9c1d8e7b4f2a';
    const sha256 = `${sha1}4f2a9c1d8e7b4f2a9c1d8e7b`;
    assert.equal(fetchRefProblem(sha1), 'is a commit id: enter the branch that holds it, e.g. main');
    assert.equal(fetchRefProblem(sha256.toUpperCase()), 'is a commit id: enter the branch that holds it, e.g. main');
    assert.equal(fetchRefProblem('refs/tags/v1.0'), 'names a tag: enter a branch, e.g. main');
    assert.equal(fetchRefProblem('refs/remotes/origin/main'), 'must be a branch, e.g. main or refs/heads/main');
    assert.equal(fetchRefProblem('refs/heads/a..b'), 'must be a branch name, e.g. main or feature/data');
    assert.equal(fetchRefProblem('a b'), 'must be a branch name, e.g. main or feature/data');
  });

  it('words an empty, too long or control-character ref as for any typed field', () => {
    assert.equal(fetchRefProblem(''), 'must not be empty');
    assert.equal(fetchRefProblem('a'.repeat(REF_MAX_LENGTH)), null);
    assert.equal(fetchRefProblem('a'.repeat(REF_MAX_LENGTH + 1)), `must be at most ${REF_MAX_LENGTH} characters`);
    assert.equal(fetchRefProblem('main\u001b[31m'), 'must not contain control characters');
  });
});
