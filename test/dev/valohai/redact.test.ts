import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { redactRequestBody } from '../../../dev/valohai/index';
import { generateKeyPair } from '../../../src/ssh/index';

// A real key, made for this run: redaction must hold for what the connect flow actually sends.
const { privateKey: KEY } = await generateKeyPair({ type: 'ed25519' });

describe('the request log never keeps a private key', () => {
  test('the ssh_private_key field of a JSON body is replaced; other fields and an empty key stay', () => {
    const logged = JSON.parse(redactRequestBody(JSON.stringify({ url: 'git@bitbucket.org:a/b.git', ssh_private_key: KEY }))) as Record<string, string>;
    assert.deepEqual(logged, { url: 'git@bitbucket.org:a/b.git', ssh_private_key: '[redacted]' });
    assert.equal(redactRequestBody('{"ssh_private_key":""}'), '{"ssh_private_key":""}');
  });

  test('a body that is not valid JSON loses the key field and any key block all the same', () => {
    const broken = `{"ssh_private_key": ${JSON.stringify(KEY)}, "url": `;
    assert.doesNotMatch(redactRequestBody(broken), /b3BlbnNzaC1rZXkt|PRIVATE KEY/);
    const truncated = `{"ssh_private_key": "${KEY.slice(0, 60).replace(/\n/g, '\\n')}`;
    assert.doesNotMatch(redactRequestBody(truncated), /b3BlbnNzaC1rZXkt/);
    assert.doesNotMatch(redactRequestBody(`key=${KEY}`), /b3BlbnNzaC1rZXkt/);
    assert.doesNotMatch(redactRequestBody(JSON.stringify({ note: KEY })), /b3BlbnNzaC1rZXkt/);
  });
});
