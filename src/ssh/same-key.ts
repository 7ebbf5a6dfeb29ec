/** The type and decoded blob of a key line, or null when the line does not start with `type base64`. */
function identity(line: string): { type: string; blob: Buffer } | null {
  const [type, base64] = line.trim().split(/\s+/);
  if (!type || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return null;
  const blob = Buffer.from(base64, 'base64');
  return blob.length > 0 ? { type, blob } : null;
}

/**
 * Whether two authorized_keys lines hold the same key: compares type and key data only, so comments,
 * spacing and line endings do not matter (Bitbucket returns keys without their comment). Lenient on
 * purpose: keys this project would refuse to add can still be recognised when they are found.
 */
export function sameKey(a: string, b: string): boolean {
  const x = identity(a);
  const y = identity(b);
  return x !== null && y !== null && x.type === y.type && x.blob.equals(y.blob);
}
