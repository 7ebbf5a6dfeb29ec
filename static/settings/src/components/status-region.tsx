import { Children, type ReactNode } from 'react';
import { Box, Stack } from '@atlaskit/primitives';

/**
 * A polite live region at the end of a card: always in the page (so a screen reader hears what
 * appears in it), and taking no room while empty, so every card ends the same distance below its
 * last visible line instead of one stack gap further.
 */
export function StatusRegion({ testId, children }: { testId: string; children?: ReactNode }) {
  const shown = Children.toArray(children).length > 0;
  return (
    <div role="status" data-testid={testId}>
      {shown && (
        <Box paddingBlockStart="space.200">
          <Stack space="space.100">{children}</Stack>
        </Box>
      )}
    </div>
  );
}
