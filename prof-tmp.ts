import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from './dev/stack.js';
import { demoValohaiCredentials } from './dev/valohai/index.js';
const run = promisify(execFile);
const entry = process.argv[2] === 'dist' ? ['dist/src/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
const stack = await startStack({ rateLimitPerHour: 1_000_000 });
const stateDir = await mkdtemp(join(tmpdir(), 'vb-prof-'));
const env = { PATH: process.env.PATH!, HOME: process.env.HOME!, ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: stateDir };
await fetch(`${stack.valohai.apiUrl}/projects/`, { method: 'POST', headers: { Authorization: `Token ${demoValohaiCredentials.admin.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'p1', owner: 'acme' }) });
const common = ['acme/inference-api', '--project', 'acme/p1'];
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < 3; i++) {
  await run(process.execPath, [...entry, 'connect', ...common, '--key-type', 'ed25519'], { env });
  await run(process.execPath, [...entry, 'disconnect', ...common, '--yes'], { env });
}
const c1 = process.cpuUsage(c0);
console.log(process.argv[2], 'wall', Math.round(performance.now() - t0), 'test process cpu user', Math.round(c1.user/1000), 'sys', Math.round(c1.system/1000));
await stack.close();
