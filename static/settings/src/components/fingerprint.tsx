import { useEffect, useState } from 'react';
import Button from '@atlaskit/button/new';
import { Box, Inline, xcss } from '@atlaskit/primitives';
import { shortFingerprint } from '../format';

const codeStyles = xcss({ whiteSpace: 'nowrap' });

/**
 * A fingerprint on one line in a table or list: short, the whole of it on hover and one click from the
 * clipboard, so a row stays one line high rather than a column of broken base64.
 */
export function Fingerprint({ value, testId }: { value: string; testId?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      // The frame may not be granted the clipboard: the whole fingerprint is in the title to select.
    }
  };
  return (
    <Inline space="space.050" alignBlock="center" testId={testId}>
      <Box as="span" xcss={codeStyles}>
        <code title={value}>{shortFingerprint(value)}</code>
      </Box>
      <Button appearance="subtle" spacing="compact" onClick={() => void copy()} aria-label={copied ? 'Fingerprint copied' : `Copy the fingerprint ${value}`}>
        {copied ? 'Copied' : 'Copy'}
      </Button>
    </Inline>
  );
}
