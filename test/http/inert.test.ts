import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { submoduleTargets } from '../../src/git/index';
import { hasControlCharacter, inert } from '../../src/http/inert';

const ESC = '\x1b';

describe('inert', () => {
  it('writes control and bidi characters out visibly, keeping lines when asked', () => {
    assert.equal(inert(`a${ESC}]0;x\x07b`), 'a\\x1b]0;x\\x07b');
    assert.equal(inert('x\u202ey\x9b2K\x7f'), 'x\\u202Ey\\x9b2K\\x7f');
    assert.equal(inert('one\ntwo\tthree\r'), 'one\\x0atwo\\x09three\\x0d');
    assert.equal(inert('one\ntwo\tthree\r', { keepLines: true }), 'one\ntwo\tthree\\x0d');
    assert.equal(inert('plain text, ünïcode — fine'), 'plain text, ünïcode — fine');
  });

  it('makes the warnings built from .gitmodules names and URLs inert, for the pages as for the CLI', () => {
    const { warnings } = submoduleTargets('git@bitbucket.org:acme/super.git', [
      { name: `docs${ESC}[1A${ESC}[2K`, path: 'do\u202ecs', url: 'https://bitbucket.org/acme/docs.git', line: 1 },
      { name: 'tools', url: `git@git${ESC}[2K.example.com:team/tools.git`, line: 4 },
      { name: `gone${ESC}]0;t\x07`, line: 7 },
    ]);
    assert.equal(warnings.length, 3);
    for (const w of warnings) assert.equal(hasControlCharacter(w.message), false, w.message);
    assert.match(warnings[0]?.message ?? '', /docs\\x1b\[1A/);
    assert.equal(warnings[0]?.submodule, `docs${ESC}[1A${ESC}[2K`, 'the data keeps the exact name');
  });
});
