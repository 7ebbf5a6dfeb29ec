/**
 * The emulator's git reads keep what a full id names and re-read a branch whenever its ref files
 * change: a commit written after a read, by update-ref or after `git pack-refs`, is what the next read
 * answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { branchTip, commitInfo, readBlob, resolveCommit, treeEntry } from '../../../dev/bitbucket/git-reader';
import { runGit } from '../../../dev/seed/git-cli';

let dir: string;
let gitDir: string;

async function commitFile(content: string, parent?: string): Promise<string> {
  const blob = (await runGit(['hash-object', '-w', '--stdin'], { gitDir, input: content })).toString().trim();
  const tree = (await runGit(['mktree'], { gitDir, input: `100644 blob ${blob}\tfile.txt\n` })).toString().trim();
  const env = { GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.test', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.test' };
  const args = ['commit-tree', tree, '-m', content, ...(parent ? ['-p', parent] : [])];
  return (await runGit(args, { gitDir, env })).toString().trim();
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vb-reader-'));
  gitDir = join(dir, 'repo.git');
  await runGit(['init', '--bare', '-q', gitDir]);
});
after(() => rm(dir, { recursive: true, force: true }));

test('a branch tip read twice follows a commit written in between, loose or packed', async () => {
  assert.equal(await branchTip(gitDir, 'main'), undefined, 'no branch yet');
  const first = await commitFile('one');
  await runGit(['update-ref', 'refs/heads/main', first], { gitDir });
  assert.equal(await branchTip(gitDir, 'main'), first, 'a branch made after a read that found none');
  assert.equal(await branchTip(gitDir, 'main'), first);

  const second = await commitFile('two', first);
  await runGit(['update-ref', 'refs/heads/main', second], { gitDir });
  assert.equal(await branchTip(gitDir, 'main'), second, 'the loose ref moved');

  await runGit(['pack-refs', '--all'], { gitDir });
  assert.equal(await branchTip(gitDir, 'main'), second, 'the ref now lives in packed-refs');
  const third = await commitFile('three', second);
  await runGit(['update-ref', 'refs/heads/main', third], { gitDir });
  assert.equal(await branchTip(gitDir, 'main'), third, 'moved again after packing');
  assert.equal(await resolveCommit(gitDir, 'main'), third);

  await runGit(['update-ref', '-d', 'refs/heads/main'], { gitDir });
  assert.equal(await branchTip(gitDir, 'main'), undefined, 'a deleted branch is gone');
});

test('reads by full id answer the same, and names that are not plain branch names still resolve', async () => {
  const sha = await commitFile('content');
  await runGit(['update-ref', 'refs/heads/feature/x', sha], { gitDir });
  assert.equal(await branchTip(gitDir, 'feature/x'), sha);
  assert.equal(await branchTip(gitDir, 'feature/../feature/x'), undefined, 'git refuses the name, as before');
  const entry = await treeEntry(gitDir, sha, 'file.txt');
  assert.ok(entry);
  assert.equal((await readBlob(gitDir, entry.oid)).toString(), 'content');
  assert.equal((await readBlob(gitDir, entry.oid)).toString(), 'content');
  assert.equal((await commitInfo(gitDir, sha)).message, 'content\n');
  assert.equal((await commitInfo(gitDir, sha)).hash, sha);
  assert.equal(await resolveCommit(gitDir, sha.slice(0, 12)), sha, 'an abbreviated id still resolves');
});
