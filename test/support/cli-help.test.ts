import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

test('the CLI prints its help and version', () => {
  const help = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--help'], { encoding: 'utf8' });
  assert.match(help, /Usage: valohai-bitbucket/);
  const version = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--version'], { encoding: 'utf8' });
  assert.match(version.trim(), /^\d+\.\d+\.\d+$/);
});
