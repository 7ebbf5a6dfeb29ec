import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGitCommand } from '../../../dev/ssh-host/index';

describe('reading the command a git client runs over SSH', () => {
  test('accepts the spellings git and people use', () => {
    const want = { service: 'upload-pack', workspace: 'ws', slug: 'repo' };
    for (const command of [
      "git-upload-pack 'ws/repo.git'",
      "git-upload-pack '/ws/repo.git'",
      "git upload-pack 'ws/repo.git'",
      'git-upload-pack ws/repo',
      "git-upload-pack 'ws/repo.git/'",
    ]) {
      assert.deepEqual(parseGitCommand(command), want, command);
    }
    assert.deepEqual(parseGitCommand("git-receive-pack 'ws/repo.git'"), { ...want, service: 'receive-pack' });
  });

  test('refuses anything that is not a git service on workspace/repo', () => {
    for (const command of [
      'ls -la',
      "git-upload-archive 'ws/repo.git'",
      "git-upload-pack 'repo.git'",
      "git-upload-pack 'ws/sub/repo.git'",
      "git-upload-pack '../etc/passwd'",
      "git-upload-pack 'ws/..'",
      "git-upload-pack '~/repo.git'",
      "git-upload-pack 'ws/repo.git'; rm -rf /",
    ]) {
      assert.equal(parseGitCommand(command), undefined, command);
    }
  });
});
