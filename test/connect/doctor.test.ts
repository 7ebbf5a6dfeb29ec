/**
 * The set-up check (connect/doctor.ts) against the stand-ins: all pass as they are; a token lacking a
 * scope, a Valohai naming a repository field otherwise, a Valohai host outside the egress list and a
 * skewed clock are each found and named. It changes nothing and stays within its ten requests.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startStack, type Stack } from '../../dev/stack';
import { demoBitbucketCredentials as bb } from '../../dev/seed/index';
import { defaultApiSettings, demoValohaiCredentials as vh } from '../../dev/valohai/index';
import { createFetchTransport } from '../../src/bitbucket/index';
import { doctor, MAX_DOCTOR_REQUESTS, type DoctorInput, type DoctorReport } from '../../src/connect/index';
import { ValohaiClient } from '../../src/valohai/index';

let stack: Stack;

function input(overrides: Partial<DoctorInput> & { token?: string } = {}): DoctorInput {
  const { token = bb.admin.token, ...rest } = overrides;
  return {
    bitbucket: createFetchTransport({ baseUrl: stack.env.BITBUCKET_API_URL, email: bb.admin.email, apiToken: token }),
    valohai: new ValohaiClient({ host: stack.env.VALOHAI_HOST, token: stack.env.VALOHAI_TOKEN, retry: { maxAttempts: 1 } }),
    valohaiHost: stack.env.VALOHAI_HOST,
    clock: { now: () => new Date() },
    workspace: 'acme',
    repository: 'acme/ml-models',
    project: vh.project.id,
    replace: { bitbucket: 'then use it.', valohai: 'then use it.' },
    ...rest,
  };
}

const line = (r: DoctorReport, check: string) => {
  const found = r.lines.find((l) => l.check === check);
  assert.ok(found, `no ${check} line in ${JSON.stringify(r.lines.map((l) => l.check))}`);
  return found;
};

/** Everything either stand-in would show a change in. */
function snapshot(): string {
  const bbState = stack.bitbucket.state;
  const keys = bbState.repos.map((r) => [r.slug, bbState.accessKeys(r.workspace.slug, r.slug)]);
  const v = stack.valohai.state;
  return JSON.stringify({ keys, projects: v.projects.map((p) => v.project(p.id)), commits: v.commitRecords.length, fetches: v.fetchRecords.length });
}

before(async () => {
  stack = await startStack();
});
after(() => stack.close());
beforeEach(() => {
  Object.assign(stack.valohai.api, defaultApiSettings());
});

describe('the stand-ins as they are', () => {
  test('every line passes (the rate-limit one is information), within the request cap, and nothing changes', async () => {
    const before = snapshot();
    const bbFrom = stack.bitbucket.requests.length;
    const vhFrom = stack.valohai.requests.length;
    const report = await doctor(input({ egress: { allowed: [new URL(stack.env.VALOHAI_HOST).origin], fix: 'add it' } }));
    for (const l of report.lines) assert.ok(l.status === 'pass' || (l.check === 'bitbucket-rate-limit' && l.status === 'info'), `${l.check}: ${l.status}: ${l.found} ${l.fix ?? ''}`);
    assert.equal(report.healthy, true);
    const sent = stack.bitbucket.requests.length - bbFrom + (stack.valohai.requests.length - vhFrom);
    assert.equal(report.requests, sent, 'the count is what the stand-ins received');
    assert.ok(report.requests <= MAX_DOCTOR_REQUESTS, `${report.requests} requests`);
    assert.equal(snapshot(), before, 'no state changed');
    assert.ok(stack.valohai.requests.slice(vhFrom).every((r) => r.method === 'GET' || r.method === 'OPTIONS'), 'Valohai got reads and OPTIONS only');
    assert.ok(!stack.valohai.requests.slice(vhFrom).some((r) => r.path.includes('/fetch/') && r.method === 'POST'), 'no fetch started');
    const writes = stack.bitbucket.requests.slice(bbFrom).filter((r) => r.method !== 'GET');
    assert.ok(writes.every((r) => r.path.includes('valohai-scope-probe-') && r.status === 404), 'Bitbucket writes only aim at a repository that does not exist');
  });
});

describe('each broken assumption is found and named', () => {
  test('a token without write:ssh-key:bitbucket', async () => {
    const report = await doctor(input({ token: bb.adminWithoutWriteSshKey.token }));
    const scopes = line(report, 'bitbucket-scopes');
    assert.equal(scopes.status, 'fail');
    assert.match(scopes.found, /lacks write:ssh-key:bitbucket/);
    assert.match(scopes.fix ?? '', /api-tokens/);
    assert.equal(report.healthy, false);
  });

  test('a Valohai whose repository settings name the fetch reference otherwise', async () => {
    stack.valohai.api.repositoryFields = { url: 'url', ref: 'fetch_reference', key: 'ssh_private_key' };
    const write = line(await doctor(input()), 'valohai-repository-write');
    assert.equal(write.status, 'fail');
    assert.match(write.found, /fetch_reference \("Fetch reference"\)/);
    assert.match(write.found, /ref is not there/);
    assert.match(write.fix ?? '', /Generate SSH Key/);
  });

  test('a Valohai host outside the egress list', async () => {
    const report = await doctor(input({ egress: { allowed: ['https://app.valohai.com'], fix: 'Add the host with npm run valohai-hosts -- <host>, then deploy.' } }));
    const egress = line(report, 'valohai-egress');
    assert.equal(egress.status, 'fail');
    assert.match(egress.found, new RegExp(`${new URL(stack.env.VALOHAI_HOST).origin.replace(/[.]/g, '\\.')} is not among the hosts the app may call \\(https://app\\.valohai\\.com\\)`));
    assert.match(egress.fix ?? '', /valohai-hosts/);
    assert.equal(line(report, 'valohai-token').status, 'unknown', 'nothing sent to a host the platform would block');
  });

  test('a clock ten minutes ahead', async () => {
    const clock = line(await doctor(input({ clock: { now: () => new Date(Date.now() + 10 * 60_000) } })), 'clock');
    assert.equal(clock.status, 'fail');
    assert.match(clock.found, /10 minutes ahead of Bitbucket's/);
    assert.match(clock.fix ?? '', /NTP/);
  });
});
