import { useRef, useState } from 'react';
import Button from '@atlaskit/button/new';
import Textfield from '@atlaskit/textfield';
import { Label } from '@atlaskit/form';
import { Box, Inline, Stack, Text, xcss } from '@atlaskit/primitives';

const growStyles = xcss({ flexGrow: 1, minWidth: '0' });

async function copyText(value: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(value);
    return true;
  } catch {
    // The frame may not be granted clipboard access: fall back to selecting the text for Ctrl+C.
    if (!input) return false;
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

/** A read-only value with a Copy button; the outcome is announced in a live region. */
export function CopyField({ id, label, value, testId }: { id: string; label: string; value: string; testId: string }) {
  const input = useRef<HTMLInputElement>(null);
  const [note, setNote] = useState('');
  const onCopy = async () => {
    const ok = await copyText(value, input.current);
    setNote(ok ? `${label} copied.` : `Copy was blocked: the text is selected, press Ctrl+C (or ⌘C).`);
  };
  return (
    <Stack space="space.050">
      <Label htmlFor={id}>{label}</Label>
      <Inline space="space.100" alignBlock="center">
        <Box xcss={growStyles}>
          <Textfield id={id} ref={input} value={value} isReadOnly isMonospaced testId={testId} onFocus={(e) => e.currentTarget.select()} />
        </Box>
        <Button onClick={onCopy} testId={`${testId}-copy`} aria-label={`Copy ${label.toLowerCase()}`}>
          Copy
        </Button>
      </Inline>
      <Text size="small" color="color.text.subtle" aria-live="polite" testId={`${testId}-note`}>
        {note}
      </Text>
    </Stack>
  );
}
