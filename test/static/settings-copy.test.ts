// What the pages say in states that used to be worded wrong or forgotten: a check whose time has come,
// a connect whose fetch failed after the connection was made, and the keys a disconnect without an API
// token left to remove by hand.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkState, open, usePages } from './page-suite';

usePages();

describe('page copy', () => {
  test('a scheduled check whose time has passed is due, not "just now"', async () => {
    const page = await open('repo-next-check-due', { ready: 'health-when' });
    assert.equal(await page.getByTestId('health-next-due').innerText(), 'The next check is due: the hourly run takes it up.');
    assert.doesNotMatch(await page.getByTestId('health-when').innerText(), /Next scheduled check just now/);
    await checkState(page, 'repo-next-check-due');
    await page.close();
  });

  test('a connect whose fetch failed says the connection exists but Valohai cannot fetch yet', async () => {
    const page = await open('repo-connect-unverified', { ready: 'job-progress' });
    const outcome = page.getByTestId('job-outcome');
    await outcome.waitFor({ timeout: 15_000 });
    const heading = await outcome.getByRole('heading').first().innerText();
    assert.equal(heading, 'Connected, but Valohai cannot fetch yet');
    assert.match(await outcome.innerText(), /Add the key to acme\/datasets, then Verify now\./);
    await checkState(page, 'repo-connect-unverified');
    await page.close();
  });

  test('keys a disconnect left to remove by hand stay listed, with links, until the admin says they are removed', async () => {
    const page = await open('repo-left-by-hand', { ready: 'left-by-hand' });
    const left = page.getByTestId('left-by-hand');
    assert.match(await left.innerText(), /Valohai project trainer was disconnected on .* without a Bitbucket API token/);
    assert.deepEqual(await page.getByTestId('left-by-hand-list').getByRole('link').evaluateAll((links) => links.map((a) => a.getAttribute('href'))), [
      'https://bitbucket.org/acme/trainer/admin/access-keys/',
      'https://bitbucket.org/acme/datasets/admin/access-keys/',
    ]);
    await checkState(page, 'repo-left-by-hand');
    await page.getByTestId('left-by-hand-done').click();
    await left.waitFor({ state: 'detached' });
    await page.getByTestId('connect-form').waitFor();
    await page.close();
  });
});
