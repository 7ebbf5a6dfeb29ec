// Anyone who can push writes .gitmodules, and every submodule followed costs requests of the
// workspace admin's stored API token (Bitbucket allows about 1,000 an hour per user). Through the
// resolvers and the consumer over the stand-ins: discovery is capped and never fans out unbounded, a
// member's page load spends none of the token's budget, and an action that would not fit in what is
// left is refused before it starts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BitbucketTransport } from '../../src/bitbucket/index';
import { DISCOVERY_LIMITS } from '../../src/connect/index';
import { demoWithRepos, libraryRepos, type Seed } from '../../dev/seed/index';
import { bb, PROJECTS, spendTokenHour, startHarness, valueOf, vh, type Harness } from './support/forge-fixture';

/** Counts what is sent with the stored token, and how much of it is in flight at once. */
class TokenMeter {
  requests = 0;
  inFlight = 0;
  maxInFlight = 0;
  watch = (transport: BitbucketTransport): BitbucketTransport => ({
    request: async (req) => {
      this.requests++;
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        return await transport.request(req);
      } finally {
        this.inFlight--;
      }
    },
  });
  reset(): void {
    this.requests = 0;
    this.maxInFlight = 0;
  }
}

const REAL = 60;
const WIDE = 2000;
const FIXED_SHA = '0123456789abcdef0123456789abcdef01234567';

/** acme/wide: a .gitmodules of 2,000 entries, the first 60 of them real repositories. */
function wideSeed(): Seed {
  const gitmodules = Array.from({ length: WIDE }, (_, i) => {
    const slug = i < REAL ? `lib-${i}` : `missing-${i}`;
    return `[submodule "s${i}"]\n\tpath = s${i}\n\turl = ../${slug}.git\n`;
  }).join('');
  return demoWithRepos([
    ...libraryRepos(REAL),
    { slug: 'wide', commits: [{ message: 'Everything vendored', files: { 'README.md': '# Wide\n', '.gitmodules': gitmodules } }] },
  ]);
}

describe('bounded discovery and page loads', () => {
  let h: Harness;
  const meter = new TokenMeter();

  before(async () => {
    h = await startHarness({ seed: wideSeed(), watchToken: meter.watch, rateLimitPerHour: 1_000_000 });
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  });
  after(async () => {
    await h?.close();
  });

  test('a preview of a 2,000-entry .gitmodules follows at most the caps, 8 requests at a time, and says so', async () => {
    meter.reset();
    const preview = valueOf(await h.call('previewConnect', { submodules: true }, h.context('admin', 'wide')));
    assert.equal(preview.targets.length, 1 + DISCOVERY_LIMITS.perLevel);
    assert.ok(preview.targets.every((t) => t.slug === 'wide' || t.slug.startsWith('lib-')));
    // Superproject (repository, head, .gitmodules), then per followed submodule its repository, head and .gitmodules.
    assert.ok(meter.requests <= 3 + 3 * DISCOVERY_LIMITS.perLevel, `${meter.requests} requests`);
    assert.ok(meter.maxInFlight <= DISCOVERY_LIMITS.concurrency, `${meter.maxInFlight} in flight at once`);
    const cap = preview.warnings.find((w) => w.code === 'submodule-cap');
    assert.ok(cap, JSON.stringify(preview.warnings.map((w) => w.code)));
    assert.match(cap.message, /2000 submodule repositories were found/);
    assert.match(cap.message, /1950 .* were not followed and get no key/);
    assert.match(cap.message, /at most 50 per level and 100 in all are followed, 5 levels deep/);
  });

  test("a reader's page load of a connected repository with a 300-entry .gitmodules spends none of the token", async () => {
    const job = valueOf(
      await h.call('startConnect', { projectId: PROJECTS.training.id, ref: 'main', keyType: 'ed25519', submodules: false }, h.context('admin', 'ml-models')),
    );
    await h.platform.idle();
    const done = valueOf(await h.call('getJob', { jobId: job.jobId }, h.context('admin', 'ml-models')));
    assert.notEqual(done.status, 'failed', done.result?.error ?? done.error);
    const entries = Array.from({ length: 300 }, (_, i) => `[submodule "v${i}"]\n\tpath = v${i}\n\turl = ../lib-${i % REAL}-${i}.git\n`).join('');
    await h.stack.bitbucket.state.pushCommit('acme', 'ml-models', {
      branch: 'main',
      message: 'Vendor 300 libraries',
      files: { '.gitmodules': entries },
      gitlinks: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`v${i}`, FIXED_SHA])),
    });

    meter.reset();
    const page = valueOf(await h.call('getRepositoryPage', {}, h.context('reader', 'ml-models')));
    assert.equal(page.state, 'connected');
    assert.equal(page.canAdminister, false);
    assert.equal(meter.requests, 0, 'the stored token was not used for a member');
  });
});

describe('the request budget', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness();
    valueOf(await h.call('saveValohaiToken', { host: h.stack.valohai.url, token: vh.admin.token }, h.context('admin')));
    valueOf(await h.call('saveBitbucketToken', { email: bb.admin.email, token: bb.admin.token }, h.context('admin')));
  });
  after(async () => {
    await h?.close();
  });

  test("a connect that would not fit in what the app's ledger has left of the token's hour is refused before anything changes", async () => {
    // Bitbucket tells an API token nothing of its hour: the app's own count does. Other work of the token's
    // user spent 990 of the 1,000 this hour, in this minute; the connect's plan needs more than the 10 left.
    const spentAt = h.platform.clock.now().getTime();
    await spendTokenHour(h, { interactive: 990 });
    const before = h.stack.bitbucket.requests.length;
    const started = valueOf(
      await h.call('startConnect', { projectId: PROJECTS.inference.id, ref: 'main', keyType: 'ed25519', submodules: true }, h.context('admin', 'inference-api')),
    );
    await h.platform.idle();
    const job = valueOf(await h.call('getJob', { jobId: started.jobId }, h.context('admin', 'inference-api')));
    assert.equal(job.status, 'failed');
    const error = job.result?.error ?? '';
    assert.match(error, /Nothing was changed: this needs about \d+ more Bitbucket requests, but the API token has \d+ left this hour/);
    // The minute the 990 were spent in leaves the rolling hour an hour later: then it fits.
    const fits = new Date(Math.floor(spentAt / 60_000) * 60_000 + 3_600_000).toISOString().slice(11, 16);
    assert.ok(error.includes(`It fits again at about ${fits} UTC`), error);
    const calls = h.stack.bitbucket.requests.slice(before);
    assert.ok(!calls.some((c) => c.path.includes('/deploy-keys') && c.method !== 'GET'), 'no key was added or removed');
    assert.ok(!calls.some((c) => c.status === 429), 'it stopped before Bitbucket had to refuse');
    assert.equal(h.stack.valohai.state.hasKey(PROJECTS.inference.repositoryId), false);
  });
});
