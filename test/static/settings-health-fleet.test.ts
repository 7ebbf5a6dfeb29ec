// The settings pages' parts for connections that look after themselves (health card, timeline, policy,
// token expiry, keys to look at) and for the fleet (repositories table, bulk actions, audit), in a real
// browser against the scenario table in fixtures.ts; axe clean and a screenshot for every state.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { accessKeysUrl } from '../../src/forge/contract';
import { auditCsv, auditKeys, auditUnreadable, batchFailure, dateIn, fleetSettings } from './fixtures';
import { checkState, focused, open, showTab, tabOrder, tokenSaves, usePages } from './page-suite';
import { shortFingerprint } from '../../static/settings/src/format';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const pages = usePages();

describe('connections that look after themselves: repository page', () => {
  test('healthy: the verdict, when it was checked and is next due, and a timeline of 30 checks reachable by keyboard', async () => {
    const page = await open('repo-health-healthy', { ready: 'health-card' });
    assert.equal(await page.getByTestId('connection-verdict').count(), 1, 'one verdict, in the page header');
    assert.equal(await page.getByTestId('connection-verdict-label').textContent(), 'Healthy');
    assert.match(await page.getByTestId('health-when').innerText(), /^Last checked 3 hours ago by a scheduled check\. Next scheduled check in 21 hours\.$/);
    assert.equal((await page.getByTestId('fact-key-age').innerText()).trim(), '40 days');
    const marks = page.getByTestId('health-timeline-mark');
    assert.equal(await marks.count(), 30);
    // The text alternative: what the marks say together, and each mark's own words for screen readers.
    assert.equal(
      await page.getByRole('list', { name: 'The last 30 checks, oldest first: 28 healthy, 2 needing attention' }).count(),
      1,
    );
    assert.deepEqual(
      await marks.evaluateAll((els) => els.map((e) => e.getAttribute('data-health'))),
      Array.from({ length: 30 }, (_, i) => (i === 9 || i === 10 ? 'degraded' : 'healthy')),
    );
    assert.match(await marks.nth(9).innerText(), /: Needs attention, by a scheduled check, key 20 days old$/);
    await checkState(page, 'repo-health-healthy');

    // One Tab stop for the whole timeline (the latest check), then the arrow keys walk it.
    await page.locator('body').focus();
    for (let i = 0; i < 40 && (await focused(page)) !== 'health-timeline-mark'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'health-timeline-mark');
    assert.match(await page.getByTestId('health-timeline-detail').innerText(), /: Healthy, by a scheduled check, key 40 days old$/);
    await page.keyboard.press('Home');
    assert.match(await page.getByTestId('health-timeline-detail').innerText(), /: Healthy, by a scheduled check, key 11 days old$/);
    await page.keyboard.press('ArrowRight');
    assert.match(await page.getByTestId('health-timeline-detail').innerText(), /key 12 days old$/);
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-health')), 'healthy');
    assert.match(await page.getByTestId('health-timeline-detail').innerText(), /key 38 days old$/);
    await page.close();
  });

  test('degraded: a 200-day key, the finding with its fix, an unused key reported, and automatic rotation due', async () => {
    const page = await open('repo-health-degraded', { ready: 'health-card' });
    assert.equal(await page.getByTestId('connection-verdict-label').textContent(), 'Needs attention');
    assert.match(await page.getByTestId('health-when').innerText(), /by a push\./);
    assert.equal((await page.getByTestId('fact-key-age').innerText()).trim(), '200 days');
    // The key's age is said once, at the top with its fix: the check's finding of it is not listed again.
    assert.match(await page.getByTestId('key-age-message').innerText(), /over 180 days[\s\S]*Rotate it: a new key replaces the old one/);
    assert.equal(await page.getByTestId('health-finding-key-age-warning').count(), 0);
    // The unused key has a row of its own below, not a second line in the findings.
    assert.equal(await page.getByTestId('health-finding-unused-key').count(), 0);
    const notices = await page.getByTestId('health-key-notices-table--table').innerText();
    assert.match(notices, /acme\/datasets[\s\S]*120 days ago[\s\S]*Unused[\s\S]*Still the connection.s key: rotate or disconnect to remove it/);
    assert.equal(await page.getByTestId('health-key-notices').getByRole('button', { name: /^Remove/ }).count(), 0, 'an unused key that is still needed is not removable');
    assert.match(await page.getByTestId('health-auto-rotate').innerText(), /Automatic rotation is on: the key is due for a new one in 3 days/);
    await checkState(page, 'repo-health-degraded');
    await page.close();
  });

  test('broken: findings that need a person first, the repository that needs an admin, and what was repaired', async () => {
    const page = await open('repo-health-broken', { ready: 'health-card' });
    assert.equal(await page.getByTestId('connection-verdict-label').textContent(), 'Broken');
    const findings = page.getByTestId('health-findings').getByRole('listitem');
    const texts = await findings.allInnerTexts();
    assert.match(texts[0] ?? '', /Valohai could not fetch[\s\S]*Once research\/vendor-data has the key, press Verify now\./);
    assert.match(texts[1] ?? '', /acme\/datasets: The key had been removed from acme\/datasets\./);
    const needs = page.getByTestId('health-needs-admin');
    assert.match(await needs.innerText(), /research\/vendor-data needs an admin[\s\S]*research\/vendor-data: the connection.s account \(Ada Lovelace\) is not an admin of it/);
    assert.equal(await needs.getByRole('link', { name: 'research/vendor-data' }).getAttribute('href'), accessKeysUrl('research', 'vendor-data'));
    assert.equal(await page.getByTestId('health-change-key-restored').innerText(), 'Put the key back on acme/datasets, 2 hours ago');
    const stray = page.getByTestId('health-key-notices-table--table').getByRole('row').filter({ hasText: 'Not made by a connection' }).last();
    assert.match(await stray.innerText(), /Not made by a connection\s+Review it on the repository.s access keys page: the app never removes a key it did not make\./);
    assert.equal(await stray.getByRole('link', { name: 'access keys page' }).getAttribute('href'), accessKeysUrl('acme', 'datasets'));
    await checkState(page, 'repo-health-broken');

    // The unneeded key goes from here too, after the same question.
    const sentBefore = pages.server.invocations.length;
    await page.getByTestId('health-key-notices-remove-acme/old-features-41').click();
    await page.getByRole('dialog').waitFor();
    await page.getByTestId('health-key-notices-confirm-confirm').click();
    await page.getByTestId('health-key-notices-removed').waitFor();
    assert.deepEqual(pages.server.invocations.slice(sentBefore).filter((i) => i.functionKey === 'removeUnneededKey').map((i) => i.payload), [
      { repository: 'acme/old-features', keyId: 41 },
    ]);
    assert.equal(await page.getByTestId('health-key-notices-remove-acme/old-features-41').count(), 0);
    await page.close();
  });

  test('paused by a refused token: shown as paused with the fix and the way to the workspace page, never as broken', async () => {
    const page = await open('repo-health-paused', { ready: 'health-card' });
    assert.equal(await page.getByTestId('connection-verdict-label').textContent(), 'Paused');
    // The reason is said once, beside the verdict; the health section says what it means and the fix.
    assert.match(await page.getByTestId('connection-verdict-reason').innerText(), /Bitbucket refused the stored API token \(401\)/);
    const paused = page.getByTestId('health-paused');
    assert.match(await paused.innerText(), /Valohai keeps fetching[\s\S]*makes a new Atlassian API token/);
    assert.equal(await page.getByTestId('health-paused-link').getAttribute('href'), 'https://bitbucket.org/acme/workspace/settings/forge/valohai');
    assert.match(await page.getByTestId('health-when').innerText(), /Last checked 3 hours ago by a scheduled check\. No check is scheduled while automatic work is paused\./);
    assert.doesNotMatch(await page.getByTestId('health-card').innerText(), /broken/i);
    // The refused token is the pause's own message, not a second finding below it.
    assert.equal(await page.getByTestId('health-findings').count(), 0);
    assert.equal(await page.getByTestId('token-notice').count(), 0, 'the refused token is the pause\'s reason, not a second notice');
    await checkState(page, 'repo-health-paused');
    await page.close();
  });

  for (const [scenario, ready] of [
    ['repo-ready-token-expiring', 'connect-form'],
    ['repo-manual-token-expiring', 'manual-view'],
  ] as const) {
    test(`a token near its expiry date is said on the page (${ready})`, async () => {
      const page = await open(scenario, { ready });
      const notice = page.getByTestId('token-notice');
      assert.equal(await notice.getByRole('heading').innerText(), `The Bitbucket API token expires on ${dateIn(12)}, in 12 days.`);
      assert.equal(await notice.getByRole('link', { name: 'https://id.atlassian.com/manage-profile/security/api-tokens' }).count(), 1);
      assert.equal(await notice.getByRole('link', { name: /Open Workspace settings/ }).getAttribute('href'), 'https://bitbucket.org/acme/workspace/settings/forge/valohai');
      await checkState(page, scenario);
      await page.close();
    });
  }

  for (const [scenario, ready] of [
    ['repo-health-healthy', 'health-card'],
    ['repo-health-degraded', 'health-card'],
    ['repo-health-broken', 'health-card'],
    ['repo-health-paused', 'health-card'],
    ['repo-ready-token-expiring', 'token-notice'],
    ['repo-manual-token-expiring', 'token-notice'],
  ] as const) {
    test(`${scenario}, dark theme`, async () => {
      const page = await open(scenario, { theme: 'dark', ready });
      await checkState(page, `${scenario}-dark`);
      await page.close();
    });
  }
});

describe('connections that look after themselves: workspace page', () => {
  test('the policy, the scheduled checks, a health column and token lifetimes', async () => {
    const page = await open('workspace-health', { ready: 'policy-section', tab: 'policies' });
    assert.match(
      await page.getByTestId('automation-runs').innerText(),
      /^The scheduled check last ran 5 hours ago \(.+\): it checked 12 connections and left 3 for the next run\. Next run in 19 hours \(.+\)\.$/,
    );
    assert.equal(await page.getByTestId('automation-rotations').innerText(), 'Automatic rotations today: 1 of at most 5.');
    assert.ok(await page.getByTestId('policy-rotate-on--radio-input').isChecked());
    assert.equal(await page.getByTestId('policy-every-days').inputValue(), '180');
    await checkState(page, 'workspace-health-policies');
    await showTab(page, 'repositories');
    const table = await page.getByTestId('repositories--table').innerText();
    assert.match(table, /acme\/trainer\s+Connected\s+Broken/);
    assert.match(table, /acme\/evaluator\s+Connected\s+Needs attention/);
    assert.match(table, /acme\/datasets\s+Not connected\s+\u2014/);
    await checkState(page, 'workspace-health-repositories');
    await showTab(page, 'setup');
    assert.match(await page.getByTestId('valohai-lifetime').innerText(), new RegExp(`^Stored 3 days ago \\(.+\\), expires on ${dateIn(206)}, in 206 days\\.$`));
    const bitbucket = page.getByTestId('bitbucket-lifetime');
    assert.equal(await bitbucket.getByRole('heading').innerText(), `The token expires on ${dateIn(12)}, in 12 days`);
    await checkState(page, 'workspace-health');
    await page.close();
  });

  test('saving the policy: the shared limits first, then the server\'s field error on its field, then saved', async () => {
    const page = await open('workspace-health', { ready: 'policy-section', tab: 'policies' });
    const saves = () => pages.server.invocations.filter((i) => i.functionKey === 'saveHealthPolicy').length;
    const before = saves();
    await page.getByTestId('policy-every-days').fill('10');
    await page.getByTestId('policy-save').click();
    assert.equal(await page.getByTestId('policy-every-days-error').innerText(), 'The rotation interval must be a whole number from 30 to 730.');
    assert.equal(saves(), before, 'nothing sent past the shared limits');

    await page.getByTestId('policy-every-days').fill('60');
    await page.getByTestId('policy-unused-days').fill('90');
    await page.getByTestId('policy-save').click();
    const error = page.getByTestId('policy-every-days-error');
    await error.filter({ hasText: 'longer than the unused-key age (90 days)' }).waitFor();
    assert.equal(await page.getByTestId('policy-every-days').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByTestId('policy-error').count(), 0, 'a field error is not a box about the request');
    await checkState(page, 'workspace-policy-field-error');

    await page.getByTestId('policy-every-days').fill('120');
    await page.getByTestId('policy-drift-alert--radio-input').check();
    await page.getByTestId('policy-unneeded-remove--radio-input').check();
    await page.getByTestId('policy-save').click();
    await page.getByTestId('policy-saved').waitFor();
    assert.equal(await page.getByTestId('policy-every-days-error').count(), 0);
    const sent = pages.server.invocations.filter((i) => i.functionKey === 'saveHealthPolicy').map((i) => i.payload);
    assert.deepEqual(sent.slice(-2), [
      { drift: 'repair', unneededKeys: 'offer', autoRotate: { enabled: true, everyDays: 60, perDay: 5 }, unusedDays: 90 },
      { drift: 'alert', unneededKeys: 'remove', autoRotate: { enabled: true, everyDays: 120, perDay: 5 }, unusedDays: 90 },
    ]);
    await page.close();
  });

  test('a member reads the policy and the paused checks, and can remove nothing', async () => {
    const page = await open('workspace-member', { ready: 'policy-section', tab: 'policies' });
    assert.equal(await page.getByTestId('policy-save').count(), 0);
    assert.equal(await page.locator('#policy-every-days').count(), 0, 'no form for someone who cannot save it');
    assert.deepEqual(await page.getByTestId('policy-summary').getByRole('listitem').allInnerTexts(), [
      'A key removed by hand is put back, and a submodule repository added later gets the key.',
      'Keys no connection needs any more are listed for removal.',
      'Keys are rotated automatically every 180 days, at most 5 connections a day.',
      'A key unused for 90 days is listed.',
    ]);
    assert.match(await page.getByTestId('automation-paused').innerText(), /Bitbucket refused the stored API token[\s\S]*makes a new Atlassian API token/);
    assert.match(await page.getByTestId('automation-runs').innerText(), /No run is scheduled while it is paused\./);
    await checkState(page, 'workspace-member-policies');
    await showTab(page, 'setup');
    assert.equal(await page.getByTestId('valohai-lifetime').getByRole('heading').innerText(), `The token expired on ${dateIn(-4)}, 4 days ago`);
    await checkState(page, 'workspace-member');
    await showTab(page, 'audit');
    assert.equal(await page.getByTestId('key-notices-remove-acme/old-features-41').count(), 0, 'what the checks found is for admins');
    assert.match(await page.getByTestId('key-notices-members').innerText(), /shown to workspace admins\. Ask one of them/);
    await checkState(page, 'workspace-member-audit');
    await page.close();
  });

  test('token expiry dates: a past date and one over a year ahead are refused before sending; the lifetime shows once saved', async () => {
    const page = await open('workspace', { ready: 'valohai-section' });
    const before = tokenSaves();
    await page.getByTestId('valohai-replace').click();
    await page.getByTestId('bitbucket-replace').click();
    await page.getByTestId('valohai-token').fill('vh-secret-456');
    await page.getByTestId('valohai-expires').fill(dateIn(-1));
    await page.getByTestId('valohai-save').click();
    assert.equal(await page.getByTestId('valohai-expires-error').innerText(), 'The expiry date is in the past: the token has expired, so make a new one.');
    assert.equal(await page.getByTestId('valohai-expires').getAttribute('aria-invalid'), 'true');

    await page.getByTestId('bitbucket-email').fill('grace@acme.example');
    await page.getByTestId('bitbucket-token').fill('ATATT-secret-2');
    await page.getByTestId('bitbucket-expires').fill(dateIn(400));
    await page.getByTestId('bitbucket-save').click();
    assert.match(await page.getByTestId('bitbucket-expires-error').innerText(), /^The expiry date is more than a year ahead, which no Atlassian API token allows/);
    assert.equal(tokenSaves(), before, 'nothing was sent');
    await checkState(page, 'workspace-expiry-errors');

    await page.getByTestId('bitbucket-expires').fill(dateIn(206));
    await page.getByTestId('bitbucket-save').click();
    await page.getByTestId('bitbucket-saved').waitFor();
    assert.match(await page.getByTestId('bitbucket-lifetime').innerText(), new RegExp(`^Stored just now \\(.+\\), expires on ${dateIn(206)}, in 206 days\\.$`));
    assert.equal(await page.getByTestId('bitbucket-expires').count(), 0, 'saved, the form closes until Replace is pressed again');
    const sent = pages.server.invocations.filter((i) => i.functionKey === 'saveBitbucketToken').at(-1);
    assert.deepEqual(sent?.payload, { email: 'grace@acme.example', token: 'ATATT-secret-2', expiresOn: dateIn(206) });
    await checkState(page, 'workspace-token-lifetime');
    await page.close();
  });

  test('keys to look at: a stray key only reported; Remove asks in a dialog that Escape closes, then the row goes', async () => {
    const page = await open('workspace-health', { ready: 'key-notices', tab: 'audit' });
    const table = page.getByTestId('key-notices-table--table');
    assert.deepEqual(await table.locator('thead th').allTextContents(), ['Repository', 'Key', 'Age', 'Last used', 'Connection', 'Kind and what to do']);
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), 3);
    // The fingerprint short, on one line, with the whole of it in its title and a Copy button.
    assert.match(await rows.nth(0).innerText(), /acme\/old-features[\s\S]*valohai:acme\/trainer:5b7c0c4e[\s\S]*SHA256:0ldF\u2026t10n\s+Copy[\s\S]*200 days[\s\S]*40 days ago[\s\S]*acme\/trainer[\s\S]*No longer needed/);
    assert.match(await rows.nth(2).innerText(), /acme\/datasets[\s\S]*400 days[\s\S]*never[\s\S]*none[\s\S]*Not made by a connection\s+Review it on the repository.s access keys page/);
    assert.equal(await rows.nth(2).getByRole('link', { name: 'access keys page' }).getAttribute('href'), accessKeysUrl('acme', 'datasets'));
    // Its only button copies the fingerprint.
    assert.equal(await rows.nth(2).getByRole('button', { name: /^Remove/ }).count(), 0, 'a stray key is never removed from here');
    assert.equal(await rows.nth(2).getByRole('button').count(), 1);
    assert.doesNotMatch(await table.innerText(), /\b41\b|\b77\b/, 'no access key ids in the text');

    const sentBefore = pages.server.invocations.length;
    const removals = () => pages.server.invocations.slice(sentBefore).filter((i) => i.functionKey === 'removeUnneededKey').map((i) => i.payload);
    const remove = page.getByTestId('key-notices-remove-acme/old-features-41');
    await remove.click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /Remove this access key\?[\s\S]*removes the access key .valohai:acme\/trainer:5b7c0c4e. \(SHA256:0ldF3atur3s\S+\) from acme\/old-features\. The connection of acme\/trainer recorded it and no longer needs it/);
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'key-notices-confirm-cancel');
    await checkState(page, 'workspace-key-remove-confirm');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'key-notices-remove-acme/old-features-41');
    assert.deepEqual(removals(), [], 'Escape removed nothing');

    await remove.click();
    await page.getByTestId('key-notices-confirm-confirm').click();
    const done = page.getByTestId('key-notices-removed');
    await done.waitFor();
    assert.match(await done.innerText(), /^Removed the access key .valohai:acme\/trainer:5b7c0c4e. \(SHA256:0ldF3atur3s\S+\) from acme\/old-features\./);
    assert.equal(await rows.count(), 2);
    assert.doesNotMatch(await table.innerText(), /acme\/old-features/);
    assert.deepEqual(removals(), [{ repository: 'acme/old-features', keyId: 41 }]);
    await checkState(page, 'workspace-key-removed');
    await page.close();
  });

  for (const scenario of ['workspace-health', 'workspace-member']) {
    test(`${scenario}, dark theme`, async () => {
      const page = await open(scenario, { theme: 'dark', ready: 'valohai-section' });
      await checkState(page, `${scenario}-dark`);
      for (const tab of ['repositories', 'audit', 'policies'] as const) {
        await showTab(page, tab);
        await checkState(page, `${scenario}-${tab}-dark`);
      }
      await page.close();
    });
  }

  test('field errors, the removal question and its outcome, dark theme', async () => {
    const page = await open('workspace-health', { theme: 'dark', ready: 'valohai-section' });
    await page.getByTestId('valohai-replace').click();
    await page.getByTestId('valohai-token').fill('vh-secret-789');
    await page.getByTestId('valohai-expires').fill(dateIn(-1));
    await page.getByTestId('valohai-save').click();
    await page.getByTestId('valohai-expires-error').waitFor();
    await checkState(page, 'workspace-field-errors-token-dark');
    await showTab(page, 'policies');
    await page.getByTestId('policy-every-days').fill('60');
    await page.getByTestId('policy-save').click();
    await page.getByTestId('policy-every-days-error').filter({ hasText: 'longer than the unused-key age' }).waitFor();
    await checkState(page, 'workspace-field-errors-health-dark');

    await showTab(page, 'audit');
    await page.getByTestId('key-notices-remove-acme/old-features-41').click();
    await page.getByRole('dialog').waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'key-notices-confirm-cancel');
    await checkState(page, 'workspace-key-remove-confirm-dark');
    await page.getByTestId('key-notices-confirm-confirm').click();
    await page.getByTestId('key-notices-removed').waitFor();
    await checkState(page, 'workspace-key-removed-dark');
    await page.close();
  });
});

/** Picks an option of a design-system select by its visible label. */
async function choose(page: Page, testId: string, label: string): Promise<void> {
  await page.getByTestId(`${testId}-select--container`).click();
  await page.getByRole('option', { name: label, exact: true }).click();
}

describe('the fleet: workspace page', () => {
  const repos = fleetSettings.repositories;
  const rowsOf = (page: Page) => page.getByTestId('repositories--table').locator('tbody tr');
  const rowTexts = (page: Page) => rowsOf(page).allInnerTexts();

  test('repositories: pages of 25, search by name or project, filters, and choosing rows', async () => {
    const page = await open('workspace-fleet', { ready: 'repositories-section', tab: 'repositories' });
    assert.equal(repos.length, 60);
    assert.equal(await rowsOf(page).count(), 25);
    assert.equal(await page.getByTestId('repositories-pages-where').innerText(), '1\u201325 of 60 repositories, page 1 of 3');
    assert.equal(await page.getByTestId('repositories-count').innerText(), '60 repositories.');
    // Widths in per cent: the name column stays the widest whatever the rows hold.
    const widths = await page.getByTestId('repositories--table').locator('thead th').evaluateAll((ths) =>
      ths.map((th) => [(th.textContent ?? '').trim(), th.getBoundingClientRect().width] as const),
    );
    const widest = [...widths].sort((a, b) => b[1] - a[1])[0];
    assert.equal(widest?.[0], 'Repository', JSON.stringify(widths));
    assert.deepEqual(
      widths.map(([name]) => name),
      ['', 'Repository', 'Valohai', 'Health', 'Project', 'Key age', 'Last verified'],
    );
    // Relative time, the exact time on hover.
    const verified = rowsOf(page).filter({ hasText: 'acme/fleet-001' }).locator('time');
    assert.match(await verified.innerText(), /ago$/);
    assert.ok((await verified.getAttribute('title'))?.match(/\d{4}/), 'the exact time is in the title');
    assert.equal(
      await page.getByRole('link', { name: 'acme/fleet-001', exact: true }).getAttribute('href'),
      repos.find((r) => r.name === 'fleet-001')?.settingsUrl,
    );

    // By name until a header says otherwise: acme/datasets, acme/features and fleet-001 to 023 fill the first page.
    await page.getByTestId('repositories-pages-next').click();
    assert.equal(await page.getByTestId('repositories-pages-where').innerText(), '26\u201350 of 60 repositories, page 2 of 3');
    assert.match((await rowTexts(page))[0] ?? '', /^\s*acme\/fleet-024\s/);

    await page.getByTestId('repo-search').fill('fleet-04');
    const byName = await rowTexts(page);
    assert.equal(byName.length, 10);
    assert.ok(byName.every((t) => t.trim().startsWith('acme/fleet-04')), byName.join('\n'));
    assert.equal(await page.getByTestId('repositories-count').innerText(), '10 of 60 repositories match.');
    assert.equal(await page.getByTestId('repositories-pages').count(), 0, 'one page needs no pager');

    await page.getByTestId('repo-search').fill('FORECAST');
    const byProject = await rowTexts(page);
    assert.equal(byProject.length, repos.filter((r) => r.projectName?.includes('forecast')).length);
    assert.ok(byProject.every((t) => /forecast-fleet-\d{3}/.test(t)));

    await page.getByTestId('repo-search').fill('');
    await choose(page, 'repo-filter', 'Not connected');
    const notConnected = await rowTexts(page);
    assert.equal(notConnected.length, repos.filter((r) => r.state === 'not-connected').length);
    assert.ok(notConnected.every((t) => /Not connected/.test(t)));

    await choose(page, 'repo-filter', 'Unhealthy (degraded, broken or paused)');
    const unhealthy = await rowTexts(page);
    assert.equal(unhealthy.length, repos.filter((r) => r.health && r.health !== 'healthy').length);
    assert.ok(unhealthy.every((t) => /\s(Needs attention|Broken|Paused)\s/.test(t)), unhealthy.join('\n'));

    await choose(page, 'repo-filter', 'Key older than a number of days');
    assert.equal(await page.getByTestId('repo-filter-days').inputValue(), '180');
    await page.getByTestId('repo-filter-days').fill('365');
    const old = await rowTexts(page);
    assert.equal(old.length, repos.filter((r) => (r.keyAgeDays ?? 0) > 365).length);
    assert.ok(old.length > 0 && old.every((t) => /\d+ days\s*Rotate now/.test(t)), old.join('\n'));
    await checkState(page, 'workspace-fleet-filtered');

    await choose(page, 'repo-filter', 'All repositories');
    assert.equal(await page.getByTestId('repositories-bar').count(), 0, 'no bar while nothing is chosen');
    assert.equal(await page.getByTestId('batch-plan-rotate').count(), 0, 'no bulk action while nothing is chosen');
    await page.getByTestId('repo-select-shown--hidden-checkbox').check();
    assert.equal(await rowsOf(page).locator('input[type=checkbox]:checked').count(), 25);
    assert.equal(await page.getByTestId('repositories-count').innerText(), '60 repositories.');
    assert.equal(await page.getByTestId('repositories-chosen').innerText(), '25 chosen');
    await page.getByTestId('repositories-pages-next').click();
    assert.equal(await page.getByTestId('repo-select-shown--hidden-checkbox').isChecked(), false, 'page 2 is not chosen');
    await page.getByTestId('repo-select-acme/fleet-030--hidden-checkbox').check();
    assert.equal(await page.getByTestId('repo-select-shown--hidden-checkbox').evaluate((el) => (el as HTMLInputElement).indeterminate), true);
    assert.equal(await page.getByTestId('repositories-chosen').innerText(), '26 chosen');
    await checkState(page, 'workspace-fleet-table');
    // A mixed box chooses the rest of the page.
    await page.getByTestId('repo-select-shown--hidden-checkbox').click();
    assert.equal(await page.getByTestId('repo-select-shown--hidden-checkbox').isChecked(), true);
    assert.equal(await page.getByTestId('repo-select-shown--hidden-checkbox').evaluate((el) => (el as HTMLInputElement).indeterminate), false);
    assert.equal(await page.getByTestId('repositories-chosen').innerText(), '50 chosen');
    await page.getByTestId('repo-select-clear').click();
    assert.equal(await page.getByTestId('repositories-bar').count(), 0);
    assert.equal(await focused(page), 'repo-select-shown--hidden-checkbox', 'the focus goes to the box that chooses again');
    await page.close();
  });

  test('repositories: sorted by a header across every page, before paging, with aria-sort', async () => {
    const page = await open('workspace-fleet', { ready: 'repositories-section', tab: 'repositories' });
    const heads = page.getByTestId('repositories--table').locator('thead th');
    const head = (name: string) => heads.filter({ hasText: name });
    // Named by the header's own text: the sort button's tooltip may be showing inside it.
    const ariaSorts = async () =>
      Object.fromEntries(
        await heads.evaluateAll((ths) =>
          ths.filter((th) => th.getAttribute('aria-sort')).map((th) => [(th.querySelector('button span')?.textContent ?? '').trim(), th.getAttribute('aria-sort')]),
        ),
      );
    const names = async () => (await rowTexts(page)).map((t) => t.trim().split(/\s/)[0]);
    const byName = [...repos].map((r) => r.fullName).sort();
    assert.deepEqual(await ariaSorts(), { Repository: 'ascending' });
    assert.deepEqual(await names(), byName.slice(0, 25));

    await head('Repository').getByRole('button').click();
    assert.deepEqual(await ariaSorts(), { Repository: 'descending' });
    assert.deepEqual(await names(), [...byName].reverse().slice(0, 25));

    // Key age: the oldest keys of the whole list come first, not the oldest of the page shown.
    await head('Key age').getByRole('button').click();
    assert.deepEqual(await ariaSorts(), { 'Key age': 'ascending' });
    await head('Key age').getByRole('button').click();
    assert.deepEqual(await ariaSorts(), { 'Key age': 'descending' });
    const byAge = [...repos].sort((a, b) => (b.keyAgeDays ?? -1) - (a.keyAgeDays ?? -1) || a.fullName.localeCompare(b.fullName));
    assert.deepEqual(await names(), byAge.slice(0, 25).map((r) => r.fullName));
    assert.equal(await page.getByTestId('repositories-pages-where').innerText(), '1\u201325 of 60 repositories, page 1 of 3', 'a new order starts at its first page');
    await page.getByTestId('repositories-pages-next').click();
    assert.deepEqual(await names(), byAge.slice(25, 50).map((r) => r.fullName));

    // Health: healthy first ascending, broken first descending; a search keeps the order.
    await head('Health').getByRole('button').click();
    await head('Health').getByRole('button').click();
    assert.deepEqual(await ariaSorts(), { Health: 'descending' });
    const healthOf = await rowsOf(page).evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td')[3]?.textContent?.trim() ?? ''));
    assert.equal(healthOf[0], 'Broken', healthOf.join(', '));
    await page.getByTestId('repo-search').fill('fleet-0');
    const searched = await rowsOf(page).evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td')[3]?.textContent?.trim() ?? ''));
    const rank = ['Broken', 'Paused', 'Needs attention', 'Healthy', '\u2014'];
    assert.deepEqual([...searched].sort((a, b) => rank.indexOf(a) - rank.indexOf(b)), searched, searched.join(', '));

    // The boxes are not a sort: they stay plain.
    assert.equal(await heads.first().getByRole('button').count(), 0);
    await checkState(page, 'workspace-fleet-sorted');
    await page.close();
  });

  test('the bar over chosen rows: its count, choosing all matching, and every part reached by keyboard', async () => {
    const page = await open('workspace-fleet', { ready: 'repositories-section', tab: 'repositories' });
    assert.equal(await page.getByTestId('repositories-bar').count(), 0);
    // Keyboard only: Tab to the first row's box, Space chooses it, and the bar appears above the table.
    assert.deepEqual(await tabOrder(page, ['repo-select-shown--hidden-checkbox', 'repo-select-acme/datasets--hidden-checkbox']), [
      'repo-select-shown--hidden-checkbox',
      'repo-select-acme/datasets--hidden-checkbox',
    ]);
    await page.keyboard.press('Space');
    assert.equal(await page.getByTestId('repositories-chosen').innerText(), '1 chosen');
    const bar = await page.getByTestId('repositories-bar').boundingBox();
    const table = await page.getByTestId('repositories--table').boundingBox();
    assert.ok(bar && table && bar.y + bar.height <= table.y, 'the bar is over the table');
    assert.equal(await page.getByTestId('repositories-bar').getAttribute('role'), 'group');
    assert.deepEqual(await page.getByTestId('repositories-bar').getByRole('button').allInnerTexts(), [
      'Choose all 60 repositories',
      'Clear',
      'Rotate',
      'Verify',
      'Connect',
      'Disconnect',
    ]);
    // Shift+Tab from the boxes walks back through the bar's buttons.
    await page.getByTestId('repo-select-shown--hidden-checkbox').focus();
    const back: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Shift+Tab');
      back.push(await focused(page));
    }
    assert.deepEqual(back, ['batch-plan-disconnect', 'batch-connect', 'batch-plan-verify', 'batch-plan-rotate', 'repo-select-clear', 'repo-select-matching']);

    // All matching a filter, every page of it, in one go: then nothing is left to choose.
    await choose(page, 'repo-filter', 'Not connected');
    const notConnected = repos.filter((r) => r.state === 'not-connected');
    assert.equal(await page.getByTestId('repo-select-matching').innerText(), `Choose all ${notConnected.length} matching`);
    await page.getByTestId('repo-select-matching').click();
    assert.equal(await page.getByTestId('repositories-chosen').innerText(), `${notConnected.length} chosen`, 'acme/datasets was chosen already');
    assert.equal(await page.getByTestId('repo-select-matching').count(), 0);
    await checkState(page, 'workspace-fleet-bar');

    // Connect asks which projects first, by keyboard too; the plan is for everything chosen, in the listing's order.
    const sent = pages.server.invocations.length;
    await page.getByTestId('batch-connect').focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.getByTestId('batch-connect').getAttribute('aria-expanded'), 'true');
    await page.getByTestId('batch-plan-connect').click();
    await page.getByRole('dialog').waitFor();
    const plans = pages.server.invocations.slice(sent).filter((i) => i.functionKey === 'planBatch');
    assert.deepEqual(
      plans.map((p) => (p.payload as { repositories?: string[] }).repositories),
      [repos.filter((r) => r.state === 'not-connected').map((r) => r.fullName)],
    );
    await page.keyboard.press('Escape');
    await page.close();
  });

  test('bulk rotate: the plan in a dialog, live progress, one repository failing with its error, and the summary', async () => {
    const page = await open('workspace-fleet', { ready: 'batch-section', tab: 'repositories' });
    const sent = pages.server.invocations.length;
    for (const name of ['acme/fleet-001', 'acme/fleet-002', 'acme/datasets']) await page.getByTestId(`repo-select-${name}--hidden-checkbox`).check();
    await page.getByTestId('batch-plan-rotate').click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'batch-plan-cancel');
    assert.equal(await dialog.getByRole('heading', { level: 1 }).innerText(), 'Rotate 2 repositories?');
    assert.equal(
      await page.getByTestId('batch-plan-duration').innerText(),
      "2 repositories, about 16 stored-token requests: fits in what automatic work may still spend of the token's hour (540 of 600 left), 3 repositories at a time.",
    );
    assert.deepEqual(await page.getByTestId('batch-plan-act').getByRole('listitem').allInnerTexts(), [
      'acme/fleet-001: the key on 2 repositories, about 8 requests',
      'acme/fleet-002: the key on 2 repositories, about 8 requests',
    ]);
    assert.deepEqual(await page.getByTestId('batch-plan-skip').getByRole('listitem').allInnerTexts(), ['acme/datasets: not connected to Valohai']);
    assert.match(await page.getByTestId('batch-plan-requests').innerText(), /^About 16 requests with the stored Bitbucket token/);
    await checkState(page, 'workspace-fleet-plan');
    const plans = pages.server.invocations.slice(sent).filter((i) => i.functionKey === 'planBatch');
    assert.deepEqual(plans.map((i) => i.payload), [{ action: 'rotate', repositories: ['acme/datasets', 'acme/fleet-001', 'acme/fleet-002'] }]);

    await page.getByTestId('batch-plan-start').click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByTestId('batch-progress').waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'batch-progress');
    assert.equal(await page.getByTestId('batch-progress-text').getAttribute('role'), 'status');
    await page.getByTestId('batch-item-status-acme/fleet-001').filter({ hasText: 'Done' }).waitFor({ timeout: 10_000 });
    assert.match(await page.getByTestId('batch-progress-text').innerText(), /1 of 2 done, 1 running, 1 skipped/);
    assert.equal(await page.getByTestId('batch-bar').getAttribute('aria-valuenow'), '1');
    assert.equal(await page.getByTestId('batch-bar').getAttribute('aria-valuemax'), '2');
    await checkState(page, 'workspace-fleet-batch-running');

    const summary = page.getByTestId('batch-summary');
    await summary.waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'batch-summary');
    assert.equal(await summary.getByRole('heading').innerText(), 'Bulk rotate done: 1 of 2 failed');
    assert.deepEqual(await summary.getByRole('list', { name: 'Failed repositories' }).getByRole('listitem').allInnerTexts(), [`acme/fleet-002: ${batchFailure}`]);
    assert.equal(await summary.getByRole('link', { name: 'https://id.atlassian.com/manage-profile/security/api-tokens' }).count(), 1);
    const items = await page.getByTestId('batch-items--table').locator('tbody tr').allInnerTexts();
    assert.match(items[0] ?? '', /acme\/fleet-001\s+Done\s+8 requests/);
    assert.match(items[1] ?? '', /acme\/fleet-002\s+Failed\s+Bitbucket refused the access key/);
    assert.match(items[2] ?? '', /acme\/datasets\s+Skipped\s+not connected to Valohai/);
    assert.doesNotMatch(await page.getByTestId('batch-section').innerText(), /batch-1/, 'no raw ids');
    const starts = pages.server.invocations.slice(sent).filter((i) => i.functionKey === 'startBatch');
    assert.deepEqual(starts.map((i) => i.payload), [{ action: 'rotate', repositories: ['acme/datasets', 'acme/fleet-001', 'acme/fleet-002'] }]);
    await checkState(page, 'workspace-fleet-batch-done');

    // Another admin's batch is under way: the refusal is said in the bar the request came from.
    await page.getByTestId('batch-plan-rotate').click();
    await page.getByTestId('batch-plan-start').click();
    const refusal = page.getByTestId('batch-error');
    await refusal.waitFor();
    assert.equal(await refusal.getByRole('heading').innerText(), 'Work is under way');
    assert.match(await refusal.innerText(), /A bulk verify is under way in this workspace[\s\S]*one bulk action runs at a time/);
    await page.close();
  });

  test('bulk connect: the plan names each repository the key goes on, submodules included, and the key type', async () => {
    const page = await open('workspace-fleet', { ready: 'batch-section', tab: 'repositories' });
    for (const name of ['acme/fleet-003', 'acme/fleet-006']) await page.getByTestId(`repo-select-${name}--hidden-checkbox`).check();
    await page.getByTestId('batch-connect').click();
    await page.getByTestId('batch-plan-connect').click();
    await page.getByRole('dialog').waitFor();
    assert.deepEqual(await page.getByTestId('batch-plan-act').getByRole('listitem').allInnerTexts(), [
      'acme/fleet-003, to Valohai project fleet-003: the key on acme/fleet-003, acme/datasets, acme/training-lib, about 12 requests',
      'acme/fleet-006, to Valohai project fleet-006: the key on acme/fleet-006 and on each submodule repository its .gitmodules names (read when it runs), about 4 requests for acme/fleet-006 itself',
    ]);
    assert.equal(await page.getByTestId('batch-plan-key-type').innerText(), 'New keys: RSA 4096 (the key type Valohai documents).');
    await checkState(page, 'workspace-fleet-connect-plan');
    await page.getByTestId('batch-plan-cancel').click();
    await page.close();
  });

  test('bulk disconnect wants the workspace slug typed; Escape closes the plan and nothing starts', async () => {
    const page = await open('workspace-fleet', { ready: 'batch-section', tab: 'repositories' });
    const sent = pages.server.invocations.length;
    // Nothing chosen: nothing to disconnect, so no button for it.
    assert.equal(await page.getByTestId('batch-plan-disconnect').count(), 0);
    await page.getByTestId('repo-select-acme/fleet-001--hidden-checkbox').check();
    await page.getByTestId('batch-plan-disconnect').click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await dialog.getByRole('heading', { level: 1 }).innerText(), 'Disconnect 1 repository?');
    await page.getByTestId('batch-plan-start').click();
    assert.equal(await page.getByTestId('batch-confirm-error').innerText(), 'Type acme to confirm.');
    await page.getByTestId('batch-confirm').fill('acme-wrong');
    await page.getByTestId('batch-plan-start').click();
    await page.getByTestId('batch-confirm-error').waitFor();
    // The slug exactly as shown: another case is not it.
    await page.getByTestId('batch-confirm').fill('ACME');
    await page.getByTestId('batch-plan-start').click();
    assert.equal(await page.getByTestId('batch-confirm-error').innerText(), 'Type acme to confirm.');
    await checkState(page, 'workspace-fleet-disconnect-confirm');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'batch-plan-disconnect');
    assert.equal(pages.server.invocations.slice(sent).filter((i) => i.functionKey === 'startBatch').length, 0, 'nothing started');
    await page.close();
  });

  test('bulk connect to new projects offers the owners the Valohai token can use, and sends the one chosen', async () => {
    const page = await open('workspace-fleet', { ready: 'batch-section', tab: 'repositories' });
    const sent = pages.server.invocations.length;
    await page.getByTestId('repo-select-acme/fleet-001--hidden-checkbox').check();
    await page.getByTestId('batch-connect').click();
    await page.getByTestId('batch-project-new--radio-input').check();
    await choose(page, 'batch-owner', 'acme:ml-team');
    await page.getByTestId('batch-plan-connect').click();
    await page.getByRole('dialog').waitFor();
    const plans = pages.server.invocations.slice(sent).filter((i) => i.functionKey === 'planBatch');
    assert.deepEqual(
      plans.map((p) => (p.payload as { connect?: unknown }).connect),
      [{ project: 'new', owner: 'acme:ml-team' }],
    );
    await page.keyboard.press('Escape');
    await page.close();
  });

  test('a member is told who sees the repositories (never an empty list), with nothing to act on them with', async () => {
    const page = await open('workspace-member', { ready: 'repositories-section', tab: 'repositories' });
    assert.match(await page.getByTestId('repositories-members').innerText(), /listed for workspace admins: ask one of them/);
    assert.equal(await page.getByText('No repositories in this workspace yet').count(), 0);
    await showTab(page, 'audit');
    assert.equal(await page.getByText('No key needs looking at').count(), 0);
    assert.equal(await page.getByTestId('batch-section').count(), 0);
    assert.equal(await page.getByTestId('audit-section').count(), 0);
    assert.equal(await page.getByTestId('repositories--table').locator('input[type=checkbox]').count(), 0);
    assert.equal(pages.server.invocations.filter((i) => i.scenario === 'workspace-member' && /Audit|Batch/.test(i.functionKey)).length, 0);
    await page.close();
  });

  test('audit: running, waiting for the budget with when it resumes, done; findings, keys by finding, exports', async () => {
    const page = await open('workspace-audit', { ready: 'audit-section', tab: 'audit' });
    const sent = pages.server.invocations.length;
    assert.equal(await page.getByTestId('audit-none').innerText(), 'No audit has been run in this workspace yet.');
    await page.getByTestId('audit-start').click();
    const progress = page.getByTestId('audit-progress');
    assert.equal(await progress.getAttribute('role'), 'status');
    await progress.filter({ hasText: '212 of 500 repositories read, 31 access keys found\u2026' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.getByTestId('audit-bar').getAttribute('aria-valuenow'), '212');
    assert.equal(await page.getByTestId('audit-bar').getAttribute('aria-valuemax'), '500');
    assert.ok(await page.getByTestId('audit-start').isDisabled(), 'one audit at a time');
    await progress.filter({ hasText: "300 of 500 repositories read, 30 access keys found; resumes at about 14:05 UTC when the stored token's hour has room." }).waitFor({ timeout: 10_000 });
    await progress.filter({ hasText: /^Done: 500 of 500 repositories read/ }).waitFor({ timeout: 10_000 });
    // Progress polls cost no Bitbucket request: they ask for no keys.
    const polls = pages.server.invocations.slice(sent).filter((i) => i.functionKey === 'getAudit');
    assert.deepEqual(polls.slice(0, 3).map((i) => i.payload), [{ pageSize: 0 }, { pageSize: 0 }, { pageSize: 0 }]);

    const count = (f: string) => auditKeys.filter((k) => k.findings.includes(f as never)).length;
    assert.match(await page.getByTestId('audit-finding-weak').innerText(), new RegExp(`^Weak\\s+${count('weak')} keys: DSA, or RSA shorter than 3072 bits$`));
    assert.match(await page.getByTestId('audit-finding-lookalike').innerText(), /1 key: named like this app.s keys, but no connection made it/);
    assert.match(await page.getByTestId('audit-finding-unused').innerText(), new RegExp(`${count('unused')} keys: .*\\(90 days\\)`));
    assert.equal(
      (await page.getByTestId('audit-unreadable').getByRole('listitem').allInnerTexts()).join('\n'),
      auditUnreadable.map((u) => `${u.repository}: ${u.error}`).join('\n'),
    );
    const table = page.getByTestId('audit-keys--table');
    await table.waitFor();
    assert.deepEqual(await table.locator('thead th').allTextContents(), ['Repository', 'Key', 'Age', 'Last used', 'Valohai connection', 'Findings']);
    assert.equal(await table.locator('tbody tr').count(), 25);
    assert.equal(await page.getByTestId('audit-pages-where').innerText(), '1\u201325 of 30 keys, page 1 of 2');
    const first = auditKeys[0];
    assert.ok(first);
    assert.match(await table.locator('tbody tr').nth(0).innerText(), new RegExp(`^${first.repository}\\s+${first.label.replace(/[[\]]/g, '\\$&')}\\s+ssh-ed25519, 256 bits\\s+${escape(shortFingerprint(first.fingerprint))}\\s+Copy\\s+today\\s+`));
    assert.match(await table.locator('tbody tr').nth(0).innerText(), new RegExp(`vision-fleet-001 of acme/fleet-001|${first.connection?.projectName} of ${first.connection?.repository}`));
    const shownText = await table.innerText();
    assert.doesNotMatch(shownText, /5b7c0c4e/, 'no project ids in the text');
    assert.doesNotMatch(shownText, /\b1[0-2]\d\b(?! days)/, 'no access key ids in the text');
    await page.getByTestId('audit-pages-next').click();
    await page.getByTestId('audit-pages-where').filter({ hasText: '26\u201330 of 30 keys, page 2 of 2' }).waitFor();

    await choose(page, 'audit-filter', 'Weak');
    await page.getByTestId('audit-pages').waitFor({ state: 'detached' });
    await table.locator('tbody tr').nth(count('weak') - 1).waitFor();
    const weak = await table.locator('tbody tr').allInnerTexts();
    assert.equal(weak.length, count('weak'));
    assert.ok(weak.every((t) => /ssh-rsa, 2048 bits[\s\S]*Weak/.test(t)), weak.join('\n'));
    assert.deepEqual(pages.server.invocations.filter((i) => i.functionKey === 'getAudit').at(-1)?.payload, { page: 1, pageSize: 25, finding: 'weak' });
    await checkState(page, 'workspace-audit-done');

    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('audit-export-csv').click()]);
    assert.equal(csv.suggestedFilename(), 'access-keys-acme-2025-07-28.csv');
    assert.equal(readFileSync((await csv.path()) ?? '', 'utf8'), auditCsv);
    await page.getByTestId('audit-status').filter({ hasText: 'Downloaded access-keys-acme-2025-07-28.csv.' }).waitFor();
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('audit-export-json').click()]);
    assert.equal(json.suggestedFilename(), 'access-keys-acme-2025-07-28.json');
    assert.equal((JSON.parse(readFileSync((await json.path()) ?? '', 'utf8')) as { keys: unknown[] }).keys.length, auditKeys.length);
    await page.close();
  });

  test('the fleet in the dark theme: table, plan and audit', async () => {
    const page = await open('workspace-audit', { theme: 'dark', ready: 'audit-section', tab: 'audit' });
    await page.getByTestId('audit-start').click();
    await page.getByTestId('audit-keys--table').waitFor({ timeout: 20_000 });
    await checkState(page, 'workspace-audit-done-dark');
    await page.close();

    const fleet = await open('workspace-fleet', { theme: 'dark', ready: 'batch-section', tab: 'repositories' });
    await fleet.getByTestId('repo-select-shown--hidden-checkbox').check();
    await checkState(fleet, 'workspace-fleet-table-dark');
    await fleet.getByTestId('batch-plan-rotate').click();
    await fleet.getByRole('dialog').waitFor();
    await checkState(fleet, 'workspace-fleet-plan-dark');
    await fleet.close();
  });
});

test('every payload the pages sent was accepted by the contract validators', () => {
  assert.ok(pages.server.invocations.length > 10, 'the pages called the resolvers');
  assert.deepEqual(pages.server.refused, []);
});
