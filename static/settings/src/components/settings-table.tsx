import DynamicTable from '@atlaskit/dynamic-table';
import { Box, xcss } from '@atlaskit/primitives';
import type { ComponentProps } from 'react';

type TableProps = ComponentProps<typeof DynamicTable>;

/** A table's columns: widths in per cent, so the columns stand where they do whatever their content. */
export type Columns = NonNullable<TableProps['head']>['cells'];

/**
 * The design system's table keeps 24px below itself for pagination, which these short lists never
 * have: taken back here, so a card ends as far below its table as it starts above its heading, and
 * text under a table sits one stack gap below it like everything else.
 */
const noPaginationRoom = xcss({ marginBlockEnd: 'space.negative.300' });

export function SettingsTable({ columns, ...props }: Omit<TableProps, 'head'> & { columns: Columns }) {
  return (
    <Box xcss={noPaginationRoom}>
      <DynamicTable head={{ cells: columns }} {...props} />
    </Box>
  );
}
