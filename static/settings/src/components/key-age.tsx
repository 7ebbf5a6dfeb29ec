import Lozenge from '@atlaskit/lozenge';
import { Inline, Text } from '@atlaskit/primitives';
import { keyAgeLevel } from '../../../../src/forge/contract';
import { keyAge } from '../format';

/**
 * A key's age with the rotation advice its level calls for (180 days: soon, 365: now). In a narrow
 * column the advice goes whole onto the next line rather than being cut short.
 */
export function KeyAge({ days }: { days: number }) {
  const level = keyAgeLevel(days);
  return (
    <Inline space="space.100" rowSpace="space.050" alignBlock="center" shouldWrap>
      <Text>{keyAge(days)}</Text>
      {level === 'warning' && <Lozenge appearance="moved">Rotate soon</Lozenge>}
      {level === 'alert' && <Lozenge appearance="removed">Rotate now</Lozenge>}
    </Inline>
  );
}
