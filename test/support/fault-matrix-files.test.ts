// The fault matrix is cut into one test file per lane (test/support/fault-matrix.ts), so that the runner
// runs the lanes side by side. Every case must stay in some file the runner runs: each lane's file
// exists and runs that lane, and no other file claims to be part of the matrix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { casesOf, lanesOf, type Workflow } from './fault-matrix';

const root = fileURLToPath(new URL('../..', import.meta.url));
const WORKFLOWS: Workflow[] = ['connect', 'rotate', 'disconnect', 'connect again'];

test('every lane of the fault matrix has its test file, and together they hold every case', () => {
  const files = new Set<string>();
  for (const workflow of WORKFLOWS) {
    const lanes = lanesOf(workflow);
    assert.equal(
      lanes.reduce((n, l) => n + l.cases.length, 0),
      casesOf(workflow).length,
      `${workflow}: the lanes hold every case once`,
    );
    for (const lane of lanes) {
      const text = readFileSync(join(root, lane.file), 'utf8');
      const call = lane.part ? `describeLane('${workflow}', '${lane.part}')` : `describeLane('${workflow}')`;
      assert.ok(text.includes(call), `${lane.file} runs ${call}`);
      files.add(lane.file);
    }
  }
  const laneFiles = readdirSync(join(root, 'test/e2e'))
    .filter((f) => /^fault-matrix-.*\.test\.ts$/.test(f))
    .map((f) => `test/e2e/${f}`)
    .filter((f) => readFileSync(join(root, f), 'utf8').includes('describeLane('));
  assert.deepEqual(laneFiles.sort(), [...files].sort(), 'the files that run a lane are the lanes');
  assert.equal(WORKFLOWS.reduce((n, w) => n + casesOf(w).length, 0), 123, 'the matrix holds 123 cases');
});
