// The resolver contract's payload validators: what the pages send passes (normalised), and what a
// tampered or out-of-date page could send is refused with the field named, never its value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bitbucketTokenMistake,
  InvalidPayloadError,
  RESOLVERS,
  fieldRules,
  isValidRef,
  keyAgeLevel,
  normaliseValohaiHost,
  validatePayload,
  valohaiTokensUrl,
} from '../../src/forge/contract';

const projectId = '5b7c0c4e-0d6f-4d35-9b1f-6e0c2f6c1a10';

function refusal(fn: () => unknown): InvalidPayloadError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InvalidPayloadError, `expected InvalidPayloadError, got ${String(err)}`);
    return err;
  }
  assert.fail('the payload was accepted');
}

test('there is a validator for every resolver, and empty payloads take nothing else', () => {
  assert.deepEqual(Object.keys(validatePayload).sort(), [...RESOLVERS].sort());
  for (const name of ['getWorkspaceSettings', 'getRepositoryPage', 'verifyManual', 'startDisconnect', 'startVerify'] as const) {
    assert.deepEqual(validatePayload[name](undefined), {});
    assert.deepEqual(validatePayload[name]({}), {});
    assert.equal(refusal(() => validatePayload[name]({ workspace: 'other' })).field, 'workspace');
  }
});

test('getWorkspaceSettings takes only whether to read the repository list again', () => {
  assert.deepEqual(validatePayload.getWorkspaceSettings({ refreshRepositories: true }), { refreshRepositories: true });
  assert.deepEqual(validatePayload.getWorkspaceSettings({ refreshRepositories: false }), {});
  assert.equal(refusal(() => validatePayload.getWorkspaceSettings({ refreshRepositories: 'yes' })).field, 'refreshRepositories');
});

test('payloads never name a workspace, repository or account', () => {
  for (const field of ['workspace', 'workspaceId', 'repository', 'repoUuid', 'accountId']) {
    const err = refusal(() =>
      validatePayload.startConnect({ projectId, ref: 'main', keyType: 'rsa', submodules: true, [field]: 'x' }),
    );
    assert.equal(err.field, field);
    assert.equal(err.toResolverError().code, 'invalid-payload');
  }
});

test('saveValohaiToken trims the token, defaults and normalises the host, and refuses other hosts', () => {
  assert.deepEqual(validatePayload.saveValohaiToken({ token: '  abc123\n' }), { token: 'abc123' });
  assert.deepEqual(validatePayload.saveValohaiToken({ host: 'https://valohai.acme.example/', token: 't' }), {
    host: 'https://valohai.acme.example',
    token: 't',
  });
  assert.equal(normaliseValohaiHost('http://127.0.0.1:8123'), 'http://127.0.0.1:8123', 'the local stand-in is allowed');
  for (const host of ['http://valohai.acme.example', 'https://app.valohai.com/api/', 'https://u:p@app.valohai.com', 'ftp://x', 'nonsense']) {
    const err = refusal(() => validatePayload.saveValohaiToken({ host, token: 't' }));
    assert.equal(err.field, 'host');
  }
  const err = refusal(() => validatePayload.saveValohaiToken({ token: 'has space' }));
  assert.ok(!err.message.includes('has space'), 'a refused token is never echoed');
  assert.equal(valohaiTokensUrl('https://app.valohai.com/'), 'https://app.valohai.com/auth/tokens/');
});

test('saveBitbucketToken wants an email and a token', () => {
  assert.deepEqual(validatePayload.saveBitbucketToken({ email: ' ada@acme.example ', token: 'ATATT1' }), {
    email: 'ada@acme.example',
    token: 'ATATT1',
  });
  assert.equal(refusal(() => validatePayload.saveBitbucketToken({ email: 'ada', token: 'x' })).field, 'email');
  assert.equal(refusal(() => validatePayload.saveBitbucketToken({ email: 'ada@acme.example', token: '' })).field, 'token');
  assert.equal(refusal(() => validatePayload.clearCredentials({ which: 'everything' })).field, 'which');
});

test('saveBitbucketToken recognises what is plainly not an Atlassian API token, and never echoes it', () => {
  const cases: [string, RegExp][] = [
    ['-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjEAAAAABG5vbmU-----END OPENSSH PRIVATE KEY-----', /is an SSH key/],
    ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB', /is an SSH key/],
    ['ATCTT3xFfGN0abcdef', /access token, which cannot manage access keys/],
    ['ATBBx7Kq2abcdef', /app password/],
    ['0123456789abcdef0123456789abcdef01234567', /Valohai token/],
  ];
  for (const [token, why] of cases) {
    const err = refusal(() => validatePayload.saveBitbucketToken({ email: 'ada@acme.example', token }));
    assert.equal(err.field, 'token');
    assert.match(err.reason, why);
    assert.ok(!err.message.includes(token.slice(5, 25)), 'the pasted text is not echoed');
  }
  assert.equal(bitbucketTokenMistake('ATATT3xFfGF0T4x-something'), undefined, 'an API token passes');
});

test('startConnect takes exactly one of an existing project and a new one', () => {
  const common = { ref: 'feature/x', keyType: 'ed25519', submodules: false };
  assert.deepEqual(validatePayload.startConnect({ projectId, ...common }), { projectId, ...common });
  assert.deepEqual(validatePayload.startManualConnect({ newProject: { name: ' trainer ', owner: 'acme:ml' }, ...common }), {
    newProject: { name: 'trainer', owner: 'acme:ml' },
    ...common,
  });
  assert.equal(refusal(() => validatePayload.startConnect({ ...common })).field, 'projectId');
  assert.equal(refusal(() => validatePayload.startConnect({ projectId, newProject: { name: 'a', owner: 'b' }, ...common })).field, 'projectId');
  assert.equal(refusal(() => validatePayload.startConnect({ projectId: 'not-a-uuid', ...common })).field, 'projectId');
  assert.equal(refusal(() => validatePayload.startConnect({ newProject: { name: 'a', owner: 'b', admin: true }, ...common })).field, 'newProject.admin');
  assert.equal(refusal(() => validatePayload.startConnect({ projectId, ...common, keyType: 'dsa' })).field, 'keyType');
  assert.equal(refusal(() => validatePayload.startConnect({ projectId, ...common, submodules: 'yes' })).field, 'submodules');
});

test('fetch references follow git ref rules', () => {
  for (const ok of ['main', 'release/2.0', 'v1.2.3', 'refs/heads/main', '4f2a9c1d8e7b']) assert.ok(isValidRef(ok), ok);
  for (const bad of ['', '-x', 'a..b', 'a b', 'a~1', 'x.lock', '/main', 'main/', 'a//b', '.hidden', 'a@{1}', 'a:b']) {
    assert.ok(!isValidRef(bad), JSON.stringify(bad));
  }
  assert.deepEqual(validatePayload.previewConnect({ submodules: true }), { submodules: true });
  assert.deepEqual(validatePayload.previewConnect({ ref: 'dev', submodules: false }), { ref: 'dev', submodules: false });
  assert.equal(refusal(() => validatePayload.previewConnect({ ref: 'a..b', submodules: true })).field, 'ref');
});

test('rotate may change the key type; getJob wants a job id', () => {
  assert.deepEqual(validatePayload.startRotate({}), {});
  assert.deepEqual(validatePayload.startRotate({ keyType: 'rsa' }), { keyType: 'rsa' });
  assert.deepEqual(validatePayload.getJob({ jobId: 'job_1-a' }), { jobId: 'job_1-a' });
  assert.equal(refusal(() => validatePayload.getJob({ jobId: '../etc' })).field, 'jobId');
  assert.equal(refusal(() => validatePayload.getJob(['job'])).field, 'payload');
});

test('key age levels switch at 180 and 365 days', () => {
  assert.deepEqual([0, 179, 180, 364, 365].map(keyAgeLevel), ['ok', 'ok', 'warning', 'warning', 'alert']);
});

test('the fetch reference is a branch: refs/heads/x is that branch, a commit id or a tag is refused by name', () => {
  const sha = '4f2a9c1d8e7b4f2a9c1d8e7b4f2a9c1d8e7b4f2a';
  assert.deepEqual(validatePayload.previewConnect({ ref: 'refs/heads/main', submodules: true }), { ref: 'main', submodules: true });
  assert.deepEqual(validatePayload.previewConnect({ ref: 'refs/heads/feature/x', submodules: true }), { ref: 'feature/x', submodules: true });
  const commit = refusal(() => validatePayload.previewConnect({ ref: sha, submodules: true })).toResolverError();
  assert.deepEqual(commit, {
    code: 'invalid-payload',
    field: 'ref',
    message: 'The fetch reference is a commit id: enter the branch that holds it, e.g. main.',
    fix: 'Correct it, then send it again.',
  });
  assert.match(refusal(() => validatePayload.startConnect({ projectId, ref: 'refs/tags/v1', keyType: 'rsa', submodules: true })).toResolverError().message, /names a tag/);
  assert.equal(fieldRules.ref(sha), 'is a commit id: enter the branch that holds it, e.g. main');
  assert.equal(fieldRules.ref('refs/heads/main'), null);
  assert.equal(fieldRules.ref('refs/remotes/origin/main'), 'must be a branch, e.g. main or refs/heads/main');
});

test('what a person typed wrong is named as that field, with the rule the page checks too', () => {
  const spaced = refusal(() => validatePayload.saveValohaiToken({ token: 'abc def' })).toResolverError();
  assert.deepEqual(spaced, { code: 'invalid-payload', field: 'token', message: 'The token must not contain spaces.', fix: 'Correct it, then send it again.' });
  assert.equal(fieldRules.valohaiToken('abc def'), 'must not contain spaces');

  const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----';
  const pasted = refusal(() => validatePayload.saveBitbucketToken({ email: 'ada@acme.example', token: key })).toResolverError();
  assert.equal(pasted.field, 'token');
  assert.equal(pasted.message, 'The token is an SSH key, not an API token: paste the API token instead.');
  assert.ok(!JSON.stringify(pasted).includes('b3BlbnNzaC1rZXkt'), 'the key is not echoed');

  const long = refusal(() => validatePayload.saveValohaiToken({ token: 'x'.repeat(1001) })).toResolverError();
  assert.equal(long.message, 'The token must be at most 1000 characters.');
  const email = refusal(() => validatePayload.saveBitbucketToken({ email: `${'a'.repeat(250)}@acme.example`, token: 't' })).toResolverError();
  assert.deepEqual([email.field, email.message], ['email', 'The email address must be at most 254 characters.']);
  const name = refusal(() => validatePayload.startConnect({ newProject: { name: 'n'.repeat(101), owner: 'acme' }, ref: 'main', keyType: 'rsa', submodules: true }));
  assert.deepEqual([name.toResolverError().field, name.toResolverError().message], ['newProject.name', 'The project name must be at most 100 characters.']);

  // A field no person types (out of step, or tampered) still says so, and names no field for a form.
  const unknown = refusal(() => validatePayload.saveValohaiToken({ token: 't', admin: true })).toResolverError();
  assert.equal(unknown.field, undefined);
  assert.match(unknown.message, /The request to saveValohaiToken was refused: admin is not a known field/);
});
