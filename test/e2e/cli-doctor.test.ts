/**
 * `valohai-bitbucket doctor` as it ships, against the stand-ins: every line passes as they are, a
 * token lacking a scope is named with its fix, and nothing secret is printed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startStack, type Stack } from '../../dev/stack';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { runCli } from '../support/e2e';

let stack: Stack;
let stateDir: string;
let env: Record<string, string>;

before(async () => {
  stack = await startStack();
  stateDir = await mkdtemp(join(tmpdir(), 'vb-cli-doctor-'));
  env = { ...stack.env, VALOHAI_BITBUCKET_STATE_DIR: stateDir };
});
after(async () => {
  await stack.close();
  await rm(stateDir, { recursive: true, force: true });
});

test('all pass on the stand-ins: exit 0, each line and the request count', async () => {
  const r = await runCli(['doctor', 'acme/ml-models', '--project', 'acme/ml-models'], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const title of ['Bitbucket API token', 'Token scopes', 'Token belongs to a workspace admin', "Listing a repository's access keys", "Clock against Bitbucket's", 'Valohai API token', 'Valohai takes the repository settings the app writes', "Valohai's commit list answers", "Valohai's fetch route answers"]) {
    assert.match(r.stdout, new RegExp(`^pass +${title.replace(/[.()]/g, '\\$&')}: `, 'm'), title);
  }
  assert.match(r.stdout, /^info +Bitbucket rate-limit headers: /m);
  assert.match(r.stdout, /^(\d+) requests \(at most 10\); nothing was changed\.$/m);
  for (const secret of [bb.admin.token, stack.env.VALOHAI_TOKEN]) assert.ok(!(r.stdout + r.stderr).includes(secret));
});

test('a token without write:ssh-key:bitbucket: exit 1, the scope named with the fix', async () => {
  const r = await runCli(['doctor', 'acme/ml-models', '--json'], { ...env, BITBUCKET_API_TOKEN: bb.adminWithoutWriteSshKey.token });
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as { healthy: boolean; requests: number; lines: { check: string; status: string; found: string; fix?: string }[] };
  const scopes = report.lines.find((l) => l.check === 'bitbucket-scopes');
  assert.equal(scopes?.status, 'fail');
  assert.match(scopes?.found ?? '', /lacks write:ssh-key:bitbucket/);
  assert.match(scopes?.fix ?? '', /BITBUCKET_API_TOKEN/);
  assert.ok(report.requests <= 10);
  assert.ok(!r.stdout.includes(bb.adminWithoutWriteSshKey.token));
});
