/** Why a pasted public key was refused. Stable codes: UIs and tests branch on them. */
export type InvalidPublicKeyReason =
  | 'empty'
  | 'too-long'
  | 'private-key'
  | 'wrong-format'
  | 'multiple-lines'
  | 'options'
  | 'dsa'
  | 'certificate'
  | 'unsupported-type'
  | 'not-a-key'
  | 'missing-key-data'
  | 'bad-base64'
  | 'truncated'
  | 'corrupt'
  | 'type-mismatch'
  | 'rsa-too-small'
  | 'rsa-too-large';

/**
 * A public key line that cannot be used as an access key. The message says what is wrong and how to
 * fix it; it never quotes the input, which may be a secret pasted into the wrong field.
 */
export class InvalidPublicKeyError extends Error {
  override readonly name = 'InvalidPublicKeyError';

  constructor(
    readonly reason: InvalidPublicKeyReason,
    message: string,
    /** Key size, when the refusal is about size. */
    readonly bits?: number,
  ) {
    super(message);
  }
}

export type KeyOption = 'type' | 'bits' | 'comment';

/** generateKeyPair was asked for something it does not make. */
export class InvalidKeyOptionsError extends Error {
  override readonly name = 'InvalidKeyOptionsError';

  constructor(
    readonly option: KeyOption,
    message: string,
  ) {
    super(message);
  }
}
