import { Box, xcss } from '@atlaskit/primitives';
import { token } from '@atlaskit/tokens';

const track = xcss({
  height: '6px',
  borderRadius: 'radius.small',
  backgroundColor: 'color.background.neutral',
  overflow: 'hidden',
});

/**
 * How far long work has come, as a bar. Without a total (the listing has not said how many yet) it
 * has no value, which screen readers announce as busy rather than as 0 %.
 */
export function ProgressBar({ value, max, label, testId }: { value: number; max: number | null; label: string; testId: string }) {
  const known = max !== null && max > 0;
  const share = known ? Math.min(1, Math.max(0, value / max)) : 0;
  return (
    <Box
      xcss={track}
      role="progressbar"
      aria-label={label}
      aria-valuemin={known ? 0 : undefined}
      aria-valuemax={known ? max : undefined}
      aria-valuenow={known ? Math.min(value, max) : undefined}
      testId={testId}
    >
      <div style={{ height: '100%', width: `${Math.round(share * 1000) / 10}%`, backgroundColor: token('color.background.brand.bold') }} />
    </Box>
  );
}
