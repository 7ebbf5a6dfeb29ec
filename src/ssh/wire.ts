/**
 * The SSH wire encodings of RFC 4251 section 5 (uint32, string, mpint) that public key blobs and the
 * openssh-key-v1 container are built from.
 */

export function sshUint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

export function sshString(value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  return Buffer.concat([sshUint32(bytes.length), bytes]);
}

/**
 * A non-negative integer given as big-endian magnitude bytes. Leading zero bytes are dropped and one
 * zero byte is put back when the top bit is set, so the value never reads as negative; zero is empty.
 */
export function sshMpint(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const body = Buffer.from(magnitude.subarray(start));
  const needsPad = body.length > 0 && ((body[0] as number) & 0x80) !== 0;
  return sshString(needsPad ? Buffer.concat([Buffer.from([0]), body]) : body);
}

/** Thrown by SshReader when the data ends before the field it was asked for. */
export class SshDataTruncatedError extends Error {
  override readonly name = 'SshDataTruncatedError';
  constructor() {
    super('SSH data ends in the middle of a field');
  }
}

/** Thrown by SshReader for an mpint with its sign bit set (SSH keys never hold negative numbers). */
export class SshNegativeMpintError extends Error {
  override readonly name = 'SshNegativeMpintError';
  constructor() {
    super('SSH data holds a negative integer where a positive one belongs');
  }
}

/** Reads SSH wire fields in order from one buffer. */
export class SshReader {
  private offset = 0;

  constructor(private readonly data: Uint8Array) {}

  get remaining(): number {
    return this.data.length - this.offset;
  }

  uint32(): number {
    if (this.remaining < 4) throw new SshDataTruncatedError();
    const view = new DataView(this.data.buffer, this.data.byteOffset + this.offset, 4);
    this.offset += 4;
    return view.getUint32(0);
  }

  bytes(length: number): Buffer {
    if (this.remaining < length) throw new SshDataTruncatedError();
    const out = Buffer.from(this.data.subarray(this.offset, this.offset + length));
    this.offset += length;
    return out;
  }

  string(): Buffer {
    return this.bytes(this.uint32());
  }

  /** An mpint's magnitude, without leading zero bytes. */
  mpint(): Buffer {
    const raw = this.string();
    if (raw.length > 0 && ((raw[0] as number) & 0x80) !== 0) throw new SshNegativeMpintError();
    let start = 0;
    while (start < raw.length && raw[start] === 0) start++;
    return raw.subarray(start);
  }
}

/** Number of significant bits in a big-endian magnitude. */
export function bitLength(magnitude: Uint8Array): number {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  if (start === magnitude.length) return 0;
  const top = magnitude[start] as number;
  return (magnitude.length - start - 1) * 8 + (32 - Math.clz32(top));
}
