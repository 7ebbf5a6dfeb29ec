import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCOUNT_KEY_MESSAGE, DUPLICATE_KEY_MESSAGE, NO_CONTENT_TYPE } from '../../../dev/bitbucket/index';
import { ed25519PublicKeyFor } from '../../../dev/seed/index';
import { generateKeyPair } from '../../../src/ssh/index';
import { creds, fieldMessage, keyMaker, obj, startDemo, type DemoEmulator, type KeyMaker } from './support/fixture';

const KEYS = '/repositories/acme/ml-models/deploy-keys';
let demo: DemoEmulator;
let keys: KeyMaker;
let counter = 0;
const freshKey = (comment = 'valohai@example') => ed25519PublicKeyFor(`access-keys-test-${counter++}`, comment);

before(async () => {
  demo = await startDemo();
  keys = await keyMaker();
});
after(async () => {
  await demo.bb.close();
  await keys.cleanup();
});

describe('adding an access key', () => {
  test('answers 200 with the key object, the comment split out of the key', async () => {
    const line = freshKey('valohai@ml-models');
    const res = await demo.call(KEYS, { method: 'POST', body: { key: line, label: 'valohai-project-1' } });
    assert.equal(res.status, 200);
    const key = obj(res);
    const [type, base64] = line.split(' ');
    assert.equal(key.type, 'deploy_key');
    assert.equal(typeof key.id, 'number');
    assert.equal(key.key, `${type} ${base64}`);
    assert.equal(key.comment, 'valohai@ml-models');
    assert.equal(key.label, 'valohai-project-1');
    assert.equal(key.last_used, null);
    assert.match(String(key.created_on), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    const repo = key.repository as Record<string, unknown>;
    assert.equal(repo.full_name, 'acme/ml-models');
    assert.equal(repo.type, 'repository');
    assert.match(String(repo.uuid), /^\{[0-9a-f-]{36}\}$/);
    assert.equal((key.links as { self: { href: string } }).self.href, `${demo.bb.url}${KEYS}/${String(key.id)}`);
  });

  test('the same key twice on one repository is refused with Bitbucket\'s message, in its field form', async () => {
    const line = freshKey();
    assert.equal((await demo.call(KEYS, { method: 'POST', body: { key: line, label: 'first' } })).status, 200);
    const again = await demo.call(KEYS, { method: 'POST', body: { key: line.replace('valohai@example', 'other comment'), label: 'second' } });
    assert.equal(again.status, 400);
    assert.equal(fieldMessage(again), DUPLICATE_KEY_MESSAGE);
    assert.deepEqual(again.json, { key: [{ message: 'Someone has already added that access key to this repository.' }] });
  });

  test('one key may sit on many repositories, each with its own id', async () => {
    const line = freshKey();
    const ids: number[] = [];
    for (const repo of ['datasets', 'training-lib', 'feature-store']) {
      const res = await demo.call(`/repositories/acme/${repo}/deploy-keys`, { method: 'POST', body: { key: line, label: 'shared' } });
      assert.equal(res.status, 200, res.text);
      ids.push(Number(obj(res).id));
    }
    assert.equal(new Set(ids).size, 3);
  });

  test('keys that are not one OpenSSH public key line are refused with 400', async () => {
    const valid = freshKey();
    const cases: unknown[] = [
      '',
      'ssh-ed25519',
      'ssh-ed25519 not-base64!!',
      `ssh-rsa ${valid.split(' ')[1]}`,
      'ssh-foo AAAAB3NzaC1yc2EAAAADAQABAAABAQ',
      `${valid}\n${freshKey()}`,
      (await generateKeyPair({ type: 'ed25519' })).privateKey, // the private half pasted by mistake
      42,
    ];
    for (const key of cases) {
      const res = await demo.call(KEYS, { method: 'POST', body: { key, label: 'bad' } });
      assert.equal(res.status, 400, `expected 400 for ${JSON.stringify(key)}, got ${res.status} ${res.text}`);
      assert.ok(fieldMessage(res));
    }
    const missing = await demo.call(KEYS, { method: 'POST', body: { label: 'no key' } });
    assert.ok(fieldMessage(missing));
    const badLabel = await demo.call(KEYS, { method: 'POST', body: { key: freshKey(), label: 7 } });
    assert.match(fieldMessage(badLabel, 'label'), /must be a string/);
    const notJson = await demo.call(KEYS, { method: 'POST', body: '{"key": ' });
    assert.equal(notJson.status, 400);
    assert.equal(obj(notJson).type, 'error', 'a body that is not JSON gets the error envelope, not a field error');
  });

  test('DSA, ECDSA and RSA-2048 keys are accepted; RSA-1024 is refused', async () => {
    for (const [type, bits] of [['dsa', undefined], ['ecdsa', 256], ['rsa', 2048]] as const) {
      const res = await demo.call(KEYS, { method: 'POST', body: { key: await keys.keyOf(type, bits), label: type } });
      assert.equal(res.status, 200, `${type}: ${res.text}`);
    }
    const weak = await demo.call(KEYS, { method: 'POST', body: { key: await keys.keyOf('rsa', 1024), label: 'weak' } });
    assert.match(fieldMessage(weak), /at least 2048 bits/);
  });

  test('an account SSH key cannot become an access key: "Someone has already registered that SSH key"', async () => {
    const res = await demo.call(KEYS, { method: 'POST', body: { key: creds.admin.accountSshKey, label: 'mine' } });
    assert.equal(fieldMessage(res), ACCOUNT_KEY_MESSAGE);
    assert.match(ACCOUNT_KEY_MESSAGE, /^Someone has already registered that SSH key/);
  });

  test('a key registered as an account SSH key at run time is refused from then on', async () => {
    const line = freshKey('later@laptop');
    demo.bb.state.registerAccountSshKey(creds.writer.email, line.replace('later@laptop', 'another comment'));
    const res = await demo.call(KEYS, { method: 'POST', body: { key: line, label: 'now refused' } });
    assert.equal(fieldMessage(res), ACCOUNT_KEY_MESSAGE);
    assert.throws(() => demo.bb.state.registerAccountSshKey('nobody@acme.test', line), /No user "nobody@acme.test"/);
  });
});

describe('reading, relabelling and deleting', () => {
  test('GET one key, PUT a new label and comment, DELETE answers 204 and the key is gone', async () => {
    const line = freshKey();
    const created = obj(await demo.call(KEYS, { method: 'POST', body: { key: line, label: 'before' } }));
    const url = `${KEYS}/${String(created.id)}`;
    assert.equal(obj(await demo.call(url)).label, 'before');

    const put = await demo.call(url, { method: 'PUT', body: { label: 'after', comment: 'rotated' } });
    assert.equal(put.status, 200);
    assert.equal(obj(put).label, 'after');
    assert.equal(obj(put).comment, 'rotated');
    assert.equal(obj(put).key, created.key);
    assert.equal(obj(await demo.call(url)).label, 'after');

    const sameKey = await demo.call(url, { method: 'PUT', body: { key: line, label: 'resent key' } });
    assert.equal(sameKey.status, 200, 'sending the unchanged key along is fine');

    const del = await demo.call(url, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assert.equal(del.contentType, NO_CONTENT_TYPE, 'a 204 carries a content type, as Bitbucket\'s do');
    assert.equal((await demo.call(url)).status, 404);
    assert.equal((await demo.call(url, { method: 'DELETE' })).status, 404);
  });

  test('PUT with a different key is refused and changes nothing', async () => {
    const created = obj(await demo.call(KEYS, { method: 'POST', body: { key: freshKey(), label: 'fixed' } }));
    const url = `${KEYS}/${String(created.id)}`;
    const res = await demo.call(url, { method: 'PUT', body: { key: freshKey(), label: 'hijack' } });
    assert.match(fieldMessage(res, 'key', 'envelope'), /cannot be changed/);
    const now = obj(await demo.call(url));
    assert.equal(now.key, created.key);
    assert.equal(now.label, 'fixed');
  });

  test('a key id of another repository or not a number is 404 here', async () => {
    const other = obj(await demo.call('/repositories/acme/datasets/deploy-keys', { method: 'POST', body: { key: freshKey(), label: 'x' } }));
    assert.equal((await demo.call(`${KEYS}/${String(other.id)}`)).status, 404);
    assert.equal((await demo.call(`${KEYS}/abc`)).status, 404);
  });

  test('the list pages through every key, following next to the end', async () => {
    const repo = '/repositories/acme/scratch/deploy-keys';
    const added: number[] = [];
    for (let i = 0; i < 23; i++) {
      added.push(Number(obj(await demo.call(repo, { method: 'POST', body: { key: freshKey(), label: `k${i}` } })).id));
    }
    const first = obj(await demo.call(repo));
    assert.equal(first.pagelen, 10);
    assert.equal(first.size, 23);
    assert.equal(first.page, 1);
    assert.equal(first.previous, undefined);
    const seen: number[] = [];
    let page: Record<string, unknown> | undefined = obj(await demo.call(`${repo}?pagelen=7&label=ignored`));
    let pages = 0;
    while (page) {
      pages += 1;
      seen.push(...(page.values as { id: number }[]).map((v) => v.id));
      if (pages > 1) assert.ok(String(page.previous).includes(`page=${pages - 1}`));
      const next = page.next as string | undefined;
      if (next) {
        const url = new URL(next);
        assert.equal(url.searchParams.get('pagelen'), '7', 'next keeps the other query parameters');
        assert.equal(url.searchParams.get('label'), 'ignored');
      }
      page = next ? obj(await demo.call(next)) : undefined;
    }
    assert.equal(pages, 4);
    assert.deepEqual(seen, added);
  });

  test('pagelen above 100 is capped at 100; a malformed page is a 400', async () => {
    assert.equal(obj(await demo.call(`${KEYS}?pagelen=500`)).pagelen, 100);
    assert.equal((await demo.call(`${KEYS}?page=zero`)).status, 400);
    assert.equal((await demo.call(`${KEYS}?pagelen=0`)).status, 400);
  });
});

describe('what the SSH host sees', () => {
  test('accessKeys() follows the API live and markKeyUsed() sets last_used', async () => {
    const when = new Date('2025-03-01T12:00:00Z');
    const created = obj(await demo.call('/repositories/acme/docs-site/deploy-keys', { method: 'POST', body: { key: freshKey(), label: 'ssh' } }));
    const id = Number(created.id);
    assert.deepEqual(demo.bb.state.accessKeys('acme', 'Docs-Site'), [{ id, key: created.key }]);
    demo.bb.state.markKeyUsed('acme', 'docs-site', id, when);
    const read = obj(await demo.call(`/repositories/acme/docs-site/deploy-keys/${id}`));
    assert.equal(read.last_used, '2025-03-01T12:00:00.000000+00:00');
    await demo.call(`/repositories/acme/docs-site/deploy-keys/${id}`, { method: 'DELETE' });
    assert.deepEqual(demo.bb.state.accessKeys('acme', 'docs-site'), []);
    assert.deepEqual(demo.bb.state.accessKeys('acme', 'no-such-repo'), []);
  });
});
