import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cliEntry } from './e2e';

test('the CLI prints its help and version', () => {
  const help = execFileSync(process.execPath, [cliEntry(), '--help'], { encoding: 'utf8' });
  assert.match(help, /Usage: valohai-bitbucket/);
  const version = execFileSync(process.execPath, [cliEntry(), '--version'], { encoding: 'utf8' });
  assert.match(version.trim(), /^\d+\.\d+\.\d+$/);
});
