// Per-repository states of a key added by hand, read from Valohai's fetch errors in git's words.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ManualTarget } from '../../src/forge/contract';
import { manualKeyStates, manualVerifyError } from '../../src/forge/jobs/manual-check';

function target(slug: string, via: string): ManualTarget {
  return { workspace: 'acme', slug, key: `acme/${slug}`, via, accessKeysUrl: `https://bitbucket.org/acme/${slug}/admin/access-keys/` };
}

const TARGETS = [
  target('app', 'superproject'),
  target('datasets', 'datasets'),
  target('training-lib', 'libs/training-lib'),
  target('feature-store', 'libs/training-lib > vendor/feature-store'),
];

/** What `git submodule update --init --recursive` prints when Bitbucket refuses one submodule's clone. */
function refusedClone(slug: string, path: string): string {
  const attempt = [
    "Cloning into '/work/" + path + "'...",
    'git@bitbucket.org: Permission denied (publickey).',
    'fatal: Could not read from remote repository.',
    '',
    'Please make sure you have the correct access rights',
    'and the repository exists.',
    `fatal: clone of 'git@bitbucket.org:acme/${slug}.git' into submodule path '/work/${path}' failed`,
  ].join('\n');
  return `${attempt}\nFailed to clone '${path}'. Retry scheduled\n${attempt}\nFailed to clone '${path}' a second time, aborting`;
}

const states = (errors: string[]) => Object.fromEntries((manualKeyStates(TARGETS, errors) ?? []).map((s) => [s.repository, s.state]));

describe('manual key states', () => {
  test('a refused submodule is missing; the level it was on and above were fetched; deeper ones not reached', () => {
    assert.deepEqual(states([`Could not fetch the submodules of git@bitbucket.org:acme/app.git at main: ${refusedClone('datasets', 'datasets')}`]), {
      'acme/app': 'present',
      'acme/datasets': 'missing',
      'acme/training-lib': 'present',
      'acme/feature-store': 'not-reached',
    });
  });

  test('two refused at one level are both named', () => {
    const both = `${refusedClone('datasets', 'datasets')}\n${refusedClone('training-lib', 'libs/training-lib')}`;
    assert.deepEqual(states([both]), { 'acme/app': 'present', 'acme/datasets': 'missing', 'acme/training-lib': 'missing', 'acme/feature-store': 'not-reached' });
  });

  test('a refusal one level down leaves the level above fetched', () => {
    assert.deepEqual(states([refusedClone('feature-store', 'libs/training-lib/vendor/feature-store')]), {
      'acme/app': 'present',
      'acme/datasets': 'present',
      'acme/training-lib': 'present',
      'acme/feature-store': 'missing',
    });
  });

  test('the repository itself refused: the submodules were not reached', () => {
    assert.deepEqual(states(['Could not fetch git@bitbucket.org:acme/app.git: git@bitbucket.org: Permission denied (publickey).']), {
      'acme/app': 'missing',
      'acme/datasets': 'not-reached',
      'acme/training-lib': 'not-reached',
      'acme/feature-store': 'not-reached',
    });
  });

  test('errors that are not a refused key say nothing per repository', () => {
    assert.equal(manualKeyStates(TARGETS, ['ssh: connect to host bitbucket.org port 22: Connection timed out']), null);
  });

  test('the words name the repositories to add the key to, and none says to run connect again', () => {
    const text = manualVerifyError(manualKeyStates(TARGETS, [refusedClone('datasets', 'datasets')]) ?? []);
    assert.match(text, /^The key is not on acme\/datasets yet \(Valohai.s fetch was refused there\): add it \(/);
    assert.match(text, /Valohai fetched acme\/app and acme\/training-lib with it/);
    assert.match(text, /stopped before reaching acme\/feature-store/);
    assert.doesNotMatch(text, /connect again/i);
  });
});
