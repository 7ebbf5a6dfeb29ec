import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorMessage, obj, rawGet, startDemo, type DemoEmulator } from './support/fixture';

const SRC = '/repositories/acme/ml-models/src';
let demo: DemoEmulator;
let mainSha: string;

before(async () => {
  demo = await startDemo();
  mainSha = (obj(await demo.call('/repositories/acme/ml-models/refs/branches/main')).target as { hash: string }).hash;
});
after(() => demo.bb.close());

describe('GET .../src/{commit}/{path}', () => {
  test('serves the raw bytes of .gitmodules at a commit id and at a branch name', async () => {
    for (const rev of [mainSha, 'main', mainSha.slice(0, 12)]) {
      const res = await demo.call(`${SRC}/${rev}/.gitmodules`);
      assert.equal(res.status, 200, rev);
      assert.match(res.contentType, /^text\/plain/);
      assert.ok(res.text.includes('[submodule "datasets"]\n\tpath = datasets\n\turl = ../datasets.git\n'), res.text);
      assert.ok(res.text.includes('url = git@bitbucket.org:acme/training-lib.git'));
      assert.ok(res.text.includes('url = https://bitbucket.org/acme/docs-site.git'));
    }
  });

  test('serves nested paths, and the file as it was on another branch', async () => {
    const onMain = await demo.call(`${SRC}/main/models/config/params.json`);
    assert.equal(onMain.text, '{"epochs": 10}\n');
    const onBranch = await demo.call(`${SRC}/${encodeURIComponent('feature/new-model')}/models/config/params.json`);
    assert.equal(onBranch.text, '{"epochs": 50}\n');
  });

  test('format=meta gives the file\'s metadata as JSON', async () => {
    const meta = obj(await demo.call(`${SRC}/${mainSha}/models/config/params.json?format=meta`));
    assert.equal(meta.type, 'commit_file');
    assert.equal(meta.path, 'models/config/params.json');
    assert.equal(meta.size, '{"epochs": 10}\n'.length);
    assert.equal((meta.commit as { hash: string }).hash, mainSha);
    const dir = obj(await demo.call(`${SRC}/${mainSha}/models?format=meta`));
    assert.equal(dir.type, 'commit_directory');
    const sub = obj(await demo.call(`${SRC}/${mainSha}/datasets?format=meta`));
    assert.equal(sub.attributes, 'subrepository');
  });

  test('a directory lists its entries; a submodule path has no raw contents', async () => {
    const listing = obj(await demo.call(`${SRC}/main/libs`));
    assert.deepEqual((listing.values as { path: string; type: string }[]).map((v) => [v.path, v.type]), [['libs/training-lib', 'commit_file']]);
    const sub = await demo.call(`${SRC}/main/libs/training-lib`);
    assert.equal(sub.status, 404);
    assert.match(errorMessage(sub), /submodule/);
  });

  test('absent files, absent commits and escaping paths are 404 JSON errors', async () => {
    for (const path of [
      `${SRC}/main/no-such-file.txt`,
      `${SRC}/main/models/config/missing.json`,
      `${SRC}/0000000000000000000000000000000000000000/README.md`,
      `${SRC}/no-such-branch/README.md`,
      `${SRC}/HEAD~1/README.md`,
    ]) {
      const res = await demo.call(path);
      assert.equal(res.status, 404, path);
      assert.equal(obj(res).type, 'error', path);
    }
  });

  test('a path that climbs out with ".." is refused, even when the client does not normalise it', async () => {
    const res = await rawGet(demo, `/2.0${SRC}/main/models/../../README.md`);
    assert.equal(res.status, 404);
    assert.equal(JSON.parse(res.text).type, 'error');
  });

  test('a file pushed at run time is served at the new commit and not at the old one', async () => {
    const sha = await demo.bb.state.pushCommit('acme', 'ml-models', {
      branch: 'main',
      message: 'Add notes',
      files: { 'docs-notes/today.md': 'pushed\n' },
    });
    assert.equal((await demo.call(`${SRC}/${sha}/docs-notes/today.md`)).text, 'pushed\n');
    assert.equal((await demo.call(`${SRC}/${mainSha}/docs-notes/today.md`)).status, 404);
  });
});
