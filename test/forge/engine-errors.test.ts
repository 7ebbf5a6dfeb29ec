/**
 * The engine's refusals as the pages show them: each gets its own code, the refusal as the message and
 * the way out as the fix, never the generic "failed unexpectedly", and a hostile name stays inert.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotAuthorisedError, ProjectInUseError, ProjectMovedError, RequestBudgetError } from '../../src/connect/index';
import { toResolverError } from '../../src/forge/errors';


test('a refused target names the repository and the way out, and its code is not-admin', () => {
  const err = new NotAuthorisedError([
    { repository: 'acme/crown-jewels', allowed: false, reason: 'not-admin', message: 'you do not administer it.', via: 'libs/jewels' },
  ]);
  const reply = toResolverError(err);
  assert.equal(reply.code, 'not-admin');
  assert.match(reply.message, /acme\/crown-jewels \(submodule libs\/jewels\): you do not administer it\./);
  assert.doesNotMatch(reply.message, /Ask the admin/, 'the way out is the fix, not part of the message');
  assert.match(reply.fix, /connect this repository only/);
});

test('a plan over the request budget is rate-limited, with the numbers', () => {
  const reply = toResolverError(new RequestBudgetError(120, 40));
  assert.equal(reply.code, 'rate-limited');
  assert.match(reply.message, /about 120 more Bitbucket requests, but the API token has 40 left/);
  assert.match(reply.fix, /Try again later/);
});

test('a project in use elsewhere and a project moved away get their own codes', () => {
  const inUse = toResolverError(new ProjectInUseError('ml-models', 'git@bitbucket.org:acme/ml-models.git'));
  assert.equal(inUse.code, 'project-in-use');
  assert.match(inUse.message, /Valohai project ml-models fetches git@bitbucket.org:acme\/ml-models.git/);
  assert.match(inUse.fix, /Choose another project/);
  const moved = toResolverError(new ProjectMovedError('ml-models', 'git@bitbucket.org:acme/other.git'));
  assert.equal(moved.code, 'not-connected');
  assert.match(moved.fix, /Disconnect/);
});

test('the CLI still gets the whole text in the message', () => {
  const err = new RequestBudgetError(120, 40);
  assert.match(err.message, /left this hour .*\. Try again later/);
  const refused = new NotAuthorisedError([{ repository: 'acme/x', allowed: false, via: 'superproject' }]);
  assert.match(refused.message, /acme\/x: not allowed\.\nAsk an admin of this repository/);
});

test('control characters in a refused name are shown, not acted on', () => {
  const err = new NotAuthorisedError([{ repository: 'acme/x', allowed: false, message: 'no.', via: 'a\u001b]0;owned\u0007b' }]);
  const reply = toResolverError(err);
  // The point of the test is to look for control characters.
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\u0000-\u0008\u000b-\u001f]/.test(reply.message), reply.message);
  assert.match(reply.message, /\\x1b/);
});
