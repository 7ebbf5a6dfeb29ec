import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bitLength, sshMpint, sshString, sshUint32, SshDataTruncatedError, SshNegativeMpintError, SshReader } from '../../src/ssh/wire';

const hex = (value: string): Buffer => Buffer.from(value.replace(/ /g, ''), 'hex');

test('mpint encodes the examples of RFC 4251 section 5', () => {
  assert.deepEqual(sshMpint(hex('')), hex('00000000'));
  assert.deepEqual(sshMpint(hex('09a378f9b2e332a7')), hex('00000008 09a378f9b2e332a7'));
  assert.deepEqual(sshMpint(hex('80')), hex('00000002 0080'));
});

test('mpint drops redundant leading zeros and keeps the value positive', () => {
  assert.deepEqual(sshMpint(hex('000000')), hex('00000000'));
  assert.deepEqual(sshMpint(hex('0001ff')), hex('00000002 01ff'));
  assert.deepEqual(sshMpint(hex('00ff')), hex('00000002 00ff'));
  assert.deepEqual(sshMpint(hex('7f')), hex('00000001 7f'));
});

test('string and uint32 are length-prefixed big-endian', () => {
  assert.deepEqual(sshString('ssh-rsa'), Buffer.concat([hex('00000007'), Buffer.from('ssh-rsa')]));
  assert.deepEqual(sshString(new Uint8Array(0)), hex('00000000'));
  assert.deepEqual(sshUint32(0xdeadbeef), hex('deadbeef'));
});

test('the reader reads back what the writers wrote', () => {
  const data = Buffer.concat([sshUint32(7), sshString('abc'), sshMpint(hex('80ff')), sshMpint(hex(''))]);
  const reader = new SshReader(data);
  assert.equal(reader.uint32(), 7);
  assert.equal(reader.string().toString(), 'abc');
  assert.deepEqual(reader.mpint(), hex('80ff'));
  assert.deepEqual(reader.mpint(), hex(''));
  assert.equal(reader.remaining, 0);
});

test('the reader refuses data that ends inside a field, and negative mpints', () => {
  assert.throws(() => new SshReader(hex('000000')).uint32(), SshDataTruncatedError);
  assert.throws(() => new SshReader(hex('00000005 6162')).string(), SshDataTruncatedError);
  assert.throws(() => new SshReader(hex('00000001 80')).mpint(), SshNegativeMpintError);
});

test('bitLength counts significant bits only', () => {
  assert.equal(bitLength(hex('')), 0);
  assert.equal(bitLength(hex('0000')), 0);
  assert.equal(bitLength(hex('01')), 1);
  assert.equal(bitLength(hex('00ff')), 8);
  assert.equal(bitLength(hex('0100')), 9);
  assert.equal(bitLength(Buffer.concat([hex('80'), Buffer.alloc(255)])), 2048);
});
