import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessKeyLabel, isLabelFor, labelMaker, labelProjectMarker, looksLikeAppLabel, projectMarker } from '../../src/connect/index';

const ID = '5b0f0e4c-7d1a-4c3e-9a61-0c2f6d8e9a01';
const DAY = new Date('2026-05-01T12:00:00Z');

test("the CLI's label says cli; the app's, and every label written before, read as the app's", () => {
  const cli = accessKeyLabel('ml-models', ID, DAY, 'cli');
  const app = accessKeyLabel('ml-models', ID, DAY);
  assert.equal(cli, `Valohai ml-models 2026-05-01 cli [vh:${projectMarker(ID)}]`);
  assert.equal(app, `Valohai ml-models 2026-05-01 [vh:${projectMarker(ID)}]`);
  assert.equal(labelMaker(cli), 'cli');
  assert.equal(labelMaker(app), 'app');
  assert.equal(labelMaker('Valohai inference-api 2025-01-01 [vh:0123456789ab]'), 'app', 'an old label');
  assert.equal(labelMaker('deploy key for CI'), undefined);
  for (const label of [cli, app]) {
    assert.ok(looksLikeAppLabel(label));
    assert.ok(isLabelFor(label, ID));
    assert.equal(labelProjectMarker(label), projectMarker(ID));
  }
});

test('a project named like the word cannot pass an app label off as the CLI', () => {
  const app = accessKeyLabel('models cli', ID, DAY);
  assert.equal(labelMaker(app), 'app');
  assert.equal(labelMaker(accessKeyLabel('x 2026-01-01 cli', ID, DAY)), 'app');
});
