// The headline of the "before anything changes" access check must blame the token only when Bitbucket
// refused it; an outage named as a token problem sends the admin to fix the wrong thing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessCheckError } from '../../src/connect/install';

test('refusals name the token as the thing to fix', () => {
  const err = new AccessCheckError([{ repository: 'acme/datasets', message: 'Bitbucket refused (403): lacks admin:repository:bitbucket', refused: true }]);
  assert.match(err.message, /^The Bitbucket API token cannot manage access keys on this repository; nothing was changed:\n {2}- acme\/datasets: Bitbucket refused/);
});

test('an outage on any target is reported as keys that could not be read, not as a token problem', () => {
  const err = new AccessCheckError([
    { repository: 'acme/datasets', message: 'Bitbucket refused (403)', refused: true },
    { repository: 'acme/feature-store', message: 'Bitbucket did not answer (503 Service Unavailable)', refused: false },
  ]);
  assert.match(err.message, /^The access keys of these repositories could not be read, so nothing was changed:/);
  assert.match(err.message, /acme\/feature-store: Bitbucket did not answer/);
  assert.doesNotMatch(err.message, /cannot manage/);
});
