import { Fragment } from 'react';
import { ExternalLink } from './link';
import { Text } from '@atlaskit/primitives';

// An http(s) address inside a sentence; a full stop, comma or closing bracket after it is the sentence's.
const URL_IN_TEXT = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

/** Text from the backend (a fix, a warning) with each address in it as a link a user can follow. */
export function LinkedText({ text }: { text: string }) {
  const parts: (string | { url: string })[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_IN_TEXT)) {
    // A clone address (…/repo.git) is something to copy into a file, not a page to open.
    if (/\.git$/.test(match[0])) continue;
    const at = match.index ?? 0;
    if (at > last) parts.push(text.slice(last, at));
    parts.push({ url: match[0] });
    last = at + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return (
    <>
      {parts.map((part, i) => (
        <Fragment key={i}>{typeof part === 'string' ? part : <ExternalLink href={part.url}>{part.url}</ExternalLink>}</Fragment>
      ))}
    </>
  );
}

/**
 * Backend text of several lines (a refusal naming a repository a line, a workflow error with its fix on
 * a line of its own), each line a paragraph with its addresses as links.
 */
export function LinkedLines({ text }: { text: string }) {
  return (
    <>
      {text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line, i) => (
          <Text as="p" key={i}>
            <LinkedText text={line} />
          </Text>
        ))}
    </>
  );
}
