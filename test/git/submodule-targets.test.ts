import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseGitmodules, submoduleTargets } from '../../src/git/index';
import type { SubmoduleWarning } from '../../src/git/index';

const SUPER = 'git@bitbucket.org:acme/super.git';

function only(warnings: SubmoduleWarning[], code: SubmoduleWarning['code']): SubmoduleWarning {
  const found = warnings.filter((w) => w.code === code);
  assert.equal(found.length, 1, JSON.stringify(warnings));
  return found[0] as SubmoduleWarning;
}

describe('submoduleTargets', () => {
  it('lists the Bitbucket repositories of absolute and relative SSH submodules', () => {
    const subs = parseGitmodules(
      [
        '[submodule "training"]',
        '\tpath = libs/training',
        '\turl = git@bitbucket.org:acme/training.git',
        '[submodule "data"]',
        '\tpath = data',
        '\turl = ../Datasets.git',
        '[submodule "shared"]',
        '\tpath = shared',
        '\turl = ../../platform/shared',
        '[submodule "ssh-url"]',
        '\tpath = tools',
        '\turl = ssh://git@bitbucket.org:22/acme/tools/',
      ].join('\n'),
    );
    const { targets, warnings } = submoduleTargets(SUPER, subs);
    assert.deepEqual(warnings, []);
    assert.deepEqual(targets, [
      { workspace: 'acme', slug: 'training', key: 'acme/training', name: 'training', path: 'libs/training', url: 'git@bitbucket.org:acme/training.git' },
      { workspace: 'acme', slug: 'Datasets', key: 'acme/datasets', name: 'data', path: 'data', url: 'git@bitbucket.org:acme/Datasets.git' },
      { workspace: 'platform', slug: 'shared', key: 'platform/shared', name: 'shared', path: 'shared', url: 'git@bitbucket.org:platform/shared' },
      { workspace: 'acme', slug: 'tools', key: 'acme/tools', name: 'ssh-url', path: 'tools', url: 'ssh://git@bitbucket.org:22/acme/tools/' },
    ]);
  });

  it('resolves relative URLs against an ssh:// superproject too', () => {
    const { targets } = submoduleTargets('ssh://git@bitbucket.org/acme/super', [{ name: 'x', url: '../lib.git', line: 1 }]);
    assert.deepEqual(targets.map((t) => [t.key, t.url]), [['acme/lib', 'ssh://git@bitbucket.org/acme/lib.git']]);
  });

  it('warns about an https submodule with the exact line to write, and still targets the repo', () => {
    const subs = parseGitmodules('[submodule "lib"]\n\tpath = lib\n\turl = https://alice:app-pass@bitbucket.org/Acme/Lib.git\n');
    const { targets, warnings } = submoduleTargets(SUPER, subs);
    const w = only(warnings, 'https-submodule');
    assert.equal(w.submodule, 'lib');
    assert.equal(w.line, 3);
    assert.match(w.message, /line 3/);
    assert.ok(w.message.endsWith('url = git@bitbucket.org:Acme/Lib.git'), w.message);
    assert.doesNotMatch(w.message, /app-pass/);
    assert.deepEqual(targets.map((t) => [t.key, t.url]), [['acme/lib', 'git@bitbucket.org:Acme/Lib.git']]);
  });

  it('warns about http:// as well', () => {
    const { warnings } = submoduleTargets(SUPER, [{ name: 'a', url: 'http://bitbucket.org/acme/a', line: 4, urlLine: 6 }]);
    const w = only(warnings, 'https-submodule');
    assert.equal(w.line, 6);
    assert.match(w.message, /url = git@bitbucket\.org:acme\/a\.git$/);
  });

  it('resolves nested relative submodules of an https superproject and suggests the SSH line', () => {
    const { targets, warnings } = submoduleTargets('https://bitbucket.org/acme/super.git', [{ name: 'a', url: '../a.git', line: 1, urlLine: 2 }]);
    assert.equal(targets[0]?.key, 'acme/a');
    assert.match(only(warnings, 'https-submodule').message, /url = git@bitbucket\.org:acme\/a\.git$/);
  });

  it('leaves other hosts alone and names the host', () => {
    const { targets, warnings } = submoduleTargets(SUPER, [
      { name: 'gh', path: 'vendor/gh', url: 'git@github.com:owner/repo.git', line: 1, urlLine: 3 },
    ]);
    assert.deepEqual(targets, []);
    const w = only(warnings, 'foreign-host');
    assert.match(w.message, /github\.com/);
    assert.equal(w.line, 3);
    assert.equal(w.submodule, 'gh');
  });

  it('hints at an SSH config alias for Bitbucket with the URL to write', () => {
    const { warnings } = submoduleTargets(SUPER, [{ name: 'a', url: 'git@bitbucket-work:acme/a.git', line: 1 }]);
    assert.match(only(warnings, 'foreign-host').message, /alias.*url = git@bitbucket\.org:acme\/a\.git instead/);
  });

  it('gives the SSH line for a git:// Bitbucket URL', () => {
    const { targets, warnings } = submoduleTargets(SUPER, [{ name: 'a', url: 'git://bitbucket.org/acme/a', line: 1, urlLine: 2 }]);
    assert.deepEqual(targets, []);
    assert.match(only(warnings, 'invalid-url').message, /Change line 2 to: url = git@bitbucket\.org:acme\/a\.git$/);
  });

  it('warns about a submodule without url, naming its section', () => {
    const { targets, warnings } = submoduleTargets(SUPER, parseGitmodules('\n[submodule "lost"]\n\tpath = lost\n'));
    assert.deepEqual(targets, []);
    const w = only(warnings, 'missing-url');
    assert.equal(w.line, 2);
    assert.match(w.message, /\[submodule "lost"\]/);
    assert.match(w.message, /url = git@bitbucket\.org:/);
  });

  it('warns about URLs that cannot be used', () => {
    const { targets, warnings } = submoduleTargets(SUPER, [
      { name: 'climbs', url: '../../../../x.git', line: 1 },
      { name: 'local', url: '/srv/git/x.git', line: 2 },
      { name: 'git-protocol', url: 'git://bitbucket.org/acme/x.git', line: 3 },
      { name: 'not-a-repo', url: 'https://bitbucket.org/acme', line: 4 },
      { name: 'option', url: '-oProxyCommand=evil', line: 5 },
      { name: 'empty', url: '', line: 6 },
      { name: 'spaces', url: 'git@bitbucket.org:acme/my repo.git', line: 7 },
    ]);
    assert.deepEqual(targets, []);
    assert.deepEqual(
      warnings.map((w) => [w.submodule, w.code]),
      [
        ['climbs', 'invalid-url'],
        ['local', 'invalid-url'],
        ['git-protocol', 'invalid-url'],
        ['not-a-repo', 'invalid-url'],
        ['option', 'invalid-url'],
        ['empty', 'missing-url'],
        ['spaces', 'invalid-url'],
      ],
    );
    for (const w of warnings) assert.match(w.message, new RegExp(`line ${w.line}`));
  });

  it('lists a repository reached by several submodules once, under the first', () => {
    const { targets, warnings } = submoduleTargets(SUPER, [
      { name: 'one', path: 'a', url: 'git@bitbucket.org:acme/lib.git', line: 1 },
      { name: 'two', path: 'b', url: '../LIB', line: 4 },
      { name: 'three', path: 'c', url: 'https://bitbucket.org/acme/lib/', line: 7, urlLine: 9 },
    ]);
    assert.deepEqual(targets.map((t) => [t.key, t.name]), [['acme/lib', 'one']]);
    assert.equal(only(warnings, 'https-submodule').submodule, 'three');
  });

  it('gives nothing for no submodules', () => {
    assert.deepEqual(submoduleTargets(SUPER, []), { targets: [], warnings: [] });
  });
});
