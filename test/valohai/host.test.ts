// One rule for a Valohai host, wherever one is given: the client (and so the CLI's VALOHAI_HOST) and the
// workspace page. They disagreed: the client took plain http to any host and kept a path, the page took
// neither. The page's rule holds everywhere: every request carries the API token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, valohaiConfig } from '../../src/cli/config';
import { normaliseValohaiHost as pageRule } from '../../src/forge/contract';
import { DEFAULT_VALOHAI_HOST, normaliseValohaiHost, parseValohaiHost, ValohaiClient } from '../../src/valohai/index';

const everywhere = (raw: string) => {
  const page = pageRule(raw);
  const rule = normaliseValohaiHost(raw);
  let client: string | null;
  try {
    client = new ValohaiClient({ host: raw, token: 't' }).host;
  } catch (err) {
    assert.ok(err instanceof TypeError, String(err));
    client = null;
  }
  let cli: string | null;
  try {
    cli = valohaiConfig({ VALOHAI_TOKEN: 't' }, { valohaiHost: raw }).host;
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    cli = null;
  }
  assert.deepEqual({ page, client, cli }, { page: rule, client: rule, cli: rule }, raw);
  return rule;
};

test('an origin in lower case, without a trailing slash', () => {
  assert.equal(everywhere('https://app.valohai.com'), 'https://app.valohai.com');
  assert.equal(everywhere(' HTTPS://Valohai.ACME.example:8443/ '), 'https://valohai.acme.example:8443');
  assert.equal(everywhere('https://app.valohai.com:443/'), 'https://app.valohai.com', 'the default port is no part of it');
  assert.equal(everywhere(DEFAULT_VALOHAI_HOST), DEFAULT_VALOHAI_HOST);
});

test('plain http only to this machine (the local stand-ins): the client took it to any host', () => {
  assert.equal(everywhere('http://127.0.0.1:8123'), 'http://127.0.0.1:8123');
  assert.equal(everywhere('http://localhost:8123/'), 'http://localhost:8123');
  assert.equal(everywhere('http://valohai.acme.example'), null);
  const said = parseValohaiHost('http://valohai.acme.example');
  assert.ok('problem' in said && /https:\/\/.*plain http only to this machine/.test(said.problem), JSON.stringify(said));
});

test('no path: the client kept one, and would have put the API and the token page below it', () => {
  assert.equal(everywhere('https://valohai.acme.example/valohai'), null);
  assert.equal(everywhere('https://app.valohai.com/api/'), null);
});

test('no credentials, query or fragment, and nothing that is not an address', () => {
  for (const raw of ['https://u:p@app.valohai.com', 'https://app.valohai.com/?x=1', 'https://app.valohai.com/#a', 'ftp://app.valohai.com', 'app.valohai.com', 'nonsense']) {
    assert.equal(everywhere(raw), null, raw);
  }
  const said = parseValohaiHost('app.valohai.com');
  assert.ok('problem' in said && said.problem.includes(DEFAULT_VALOHAI_HOST), 'the refusal shows how to write it');
});
