import { useEffect, useRef } from 'react';
import { token } from '@atlaskit/tokens';

/**
 * A plain checkbox in the theme's brand colour: the design system's own checkbox is not among the
 * page's packages, and a native input keeps every keyboard and screen-reader behaviour for free.
 */
export function Checkbox({
  checked,
  indeterminate = false,
  onChange,
  label,
  disabled = false,
  testId,
}: {
  checked: boolean;
  indeterminate?: boolean;
  onChange: (checked: boolean) => void;
  /** Read by screen readers; rows say which repository, the header what "all" covers. */
  label: string;
  disabled?: boolean;
  testId: string;
}) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // Only settable from script: some but not all rows shown are chosen.
    if (ref.current) ref.current.indeterminate = indeterminate;
  }, [indeterminate]);
  return (
    <input
      ref={ref}
      type="checkbox"
      checked={checked}
      disabled={disabled}
      aria-label={label}
      onChange={(e) => onChange(e.currentTarget.checked)}
      data-testid={testId}
      style={{ width: 16, height: 16, margin: 0, accentColor: token('color.background.brand.bold'), cursor: disabled ? 'not-allowed' : 'pointer' }}
    />
  );
}
