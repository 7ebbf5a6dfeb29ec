import { ErrorMessage, HelperMessage, Label } from '@atlaskit/form';
import { Stack } from '@atlaskit/primitives';
import Textfield from '@atlaskit/textfield';

/**
 * Where the public half of a key made in Valohai is pasted (one line). Only the public half ever goes
 * here; the server refuses a private key without quoting it, and so does this page's own check.
 */
export function PublicKeyField({
  id,
  label,
  help,
  value,
  error,
  disabled,
  onChange,
  testId,
}: {
  id: string;
  label: string;
  help: string;
  value: string;
  error?: string | undefined;
  disabled: boolean;
  onChange: (value: string) => void;
  testId: string;
}) {
  return (
    <Stack space="space.050">
      <Label htmlFor={id}>{label}</Label>
      <Textfield
        id={id}
        value={value}
        onChange={(e) => onChange(e.currentTarget.value)}
        isDisabled={disabled}
        isInvalid={Boolean(error)}
        isMonospaced
        autoComplete="off"
        spellCheck={false}
        placeholder="ssh-ed25519 AAAA… or ssh-rsa AAAA…"
        testId={testId}
      />
      {error ? <ErrorMessage testId={`${testId}-error`}>{error}</ErrorMessage> : <HelperMessage>{help}</HelperMessage>}
    </Stack>
  );
}

/** The page's own first look at a pasted key: a private key is never sent on. */
export function publicKeyProblem(value: string): string | null {
  const v = value.trim();
  if (v === '') return 'Paste the public key Valohai shows beside Generate SSH Key.';
  if (/PRIVATE KEY|PuTTY-User-Key-File-|b3BlbnNzaC1rZXktdjE/i.test(v)) {
    return 'This is a private key, which must never leave Valohai: it was not sent. Paste the public key Valohai shows beside Generate SSH Key.';
  }
  return null;
}
