import SectionMessage from '@atlaskit/section-message';
import type { Warning } from '../../../../src/connect/types';
import { LinkedText } from '../components/linked-text';
import { plural } from '../format';

export function sameWarning(a: Warning, b: Warning): boolean {
  return a.code === b.code && a.repository === b.repository && a.message === b.message;
}

export function WarningList({ warnings, testId }: { warnings: Warning[]; testId: string }) {
  if (warnings.length === 0) return null;
  return (
    <SectionMessage appearance="warning" title={plural(warnings.length, 'warning')} testId={testId}>
      <ul>
        {warnings.map((w, i) => (
          <li key={`${w.code}-${i}`} data-testid={`warning-${w.code}`}>
            {w.repository ? `${w.repository}: ` : ''}
            <LinkedText text={w.message} />
          </li>
        ))}
      </ul>
    </SectionMessage>
  );
}
