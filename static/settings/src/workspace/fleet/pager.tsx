import Button from '@atlaskit/button/new';
import { Inline, Text } from '@atlaskit/primitives';

/**
 * Previous and Next under a long list, with where the reader is in it. Plain buttons rather than a
 * row of page numbers: hundreds of repositories make dozens of pages, and search narrows faster.
 */
export function Pager({
  page,
  pageSize,
  total,
  onPage,
  noun,
  testId,
}: {
  /** From 1. */
  page: number;
  pageSize: number;
  total: number;
  onPage: (page: number) => void;
  /** What the list holds, plural: "repositories". */
  noun: string;
  testId: string;
}) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (total <= pageSize) return null;
  const first = (page - 1) * pageSize + 1;
  const last = Math.min(total, page * pageSize);
  return (
    <nav aria-label={`Pages of ${noun}`} data-testid={testId}>
      <Inline space="space.100" alignBlock="center">
        <Button onClick={() => onPage(page - 1)} isDisabled={page <= 1} testId={`${testId}-previous`}>
          Previous
        </Button>
        <Button onClick={() => onPage(page + 1)} isDisabled={page >= pages} testId={`${testId}-next`}>
          Next
        </Button>
        <Text color="color.text.subtle" testId={`${testId}-where`}>
          {`${first}\u2013${last} of ${total} ${noun}, page ${page} of ${pages}`}
        </Text>
      </Inline>
    </nav>
  );
}
