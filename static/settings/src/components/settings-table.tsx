import DynamicTable from '@atlaskit/dynamic-table';
import { Box, xcss } from '@atlaskit/primitives';
import type { ComponentProps } from 'react';

/**
 * The design system's table keeps 24px below itself for pagination, which these short lists never
 * have: taken back here, so a card ends as far below its table as it starts above its heading, and
 * text under a table sits one stack gap below it like everything else.
 */
const noPaginationRoom = xcss({ marginBlockEnd: 'space.negative.300' });

export function SettingsTable(props: ComponentProps<typeof DynamicTable>) {
  return (
    <Box xcss={noPaginationRoom}>
      <DynamicTable {...props} />
    </Box>
  );
}
