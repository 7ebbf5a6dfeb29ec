import { useRef, useState, type KeyboardEvent } from 'react';
import { Box, Stack, Text, xcss } from '@atlaskit/primitives';
import type { ConnectionHealth, HealthView } from '../../../../src/forge/contract';
import { formatDateTime, keyAge, plural } from '../format';
import { healthLook, triggerWords } from '../components/health-look';

type Point = HealthView['history'][number];

const listStyles = xcss({ margin: 'space.0', padding: 'space.0', listStyle: 'none', display: 'flex', gap: 'space.050', alignItems: 'flex-end' });

const itemStyles = xcss({
  display: 'flex',
  alignItems: 'flex-end',
  height: '24px',
  borderRadius: 'radius.small',
  ':focus-visible': { outlineColor: 'color.border.focused', outlineStyle: 'solid', outlineWidth: 'border.width.focused', outlineOffset: 'space.025' },
});

const markStyles = xcss({ width: '12px', borderRadius: 'radius.small' });

/** The marks and the axis under them share one width: the axis spans exactly the checks it dates. */
const chartStyles = xcss({ display: 'inline-flex', flexDirection: 'column', gap: 'space.050' });
const axisStyles = xcss({
  display: 'flex',
  justifyContent: 'space-between',
  gap: 'space.100',
  paddingBlockStart: 'space.050',
  borderBlockStartWidth: 'border.width',
  borderBlockStartStyle: 'solid',
  borderBlockStartColor: 'color.border',
});

const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** The days the axis names: the oldest check, the newest, and the one halfway when there is room. */
function axisDays(history: Point[]): { at: string; label: string }[] {
  const picks = history.length >= 12 ? [0, Math.floor((history.length - 1) / 2), history.length - 1] : [0, history.length - 1];
  const days = [...new Set(picks)].map((i) => history[i]).filter((p): p is Point => Boolean(p));
  const labels = days.map((p) => ({ at: p.at, label: dayFormat.format(new Date(p.at)) }));
  // One check, or all on one day: the day once.
  return labels.filter((l, i) => labels.findIndex((m) => m.label === l.label) === i);
}

// Colour is backed by height (a worse check stands lower), so the marks read without telling colours apart.
const verdictStyles: Record<ConnectionHealth, ReturnType<typeof xcss>> = {
  healthy: xcss({ backgroundColor: 'color.background.success.bold', height: '24px' }),
  degraded: xcss({ backgroundColor: 'color.background.warning.bold', height: '16px' }),
  broken: xcss({ backgroundColor: 'color.background.danger.bold', height: '8px' }),
  paused: xcss({ backgroundColor: 'color.background.neutral.bold', height: '12px' }),
};

/** Off screen but read by screen readers: each mark's words, beside a mark that is only a colour. */
const hidden = {
  position: 'absolute',
  width: '1px',
  height: '1px',
  overflow: 'hidden',
  clip: 'rect(0 0 0 0)',
  whiteSpace: 'nowrap',
} as const;

function sentence(point: Point): string {
  const age = point.keyAgeDays === null ? 'key age unknown' : `key ${keyAge(point.keyAgeDays) === 'today' ? 'made that day' : `${keyAge(point.keyAgeDays)} old`}`;
  return `${formatDateTime(point.at)}: ${healthLook[point.health].label}, by ${triggerWords[point.trigger]}, ${age}`;
}

const countWords: Record<ConnectionHealth, string> = { healthy: 'healthy', degraded: 'needing attention', broken: 'broken', paused: 'paused' };

function summary(history: Point[]): string {
  const counts = (['healthy', 'degraded', 'broken', 'paused'] as const)
    .map((h) => [h, history.filter((p) => p.health === h).length] as const)
    .filter(([, n]) => n > 0)
    .map(([h, n]) => `${n} ${countWords[h]}`);
  return `The last ${plural(history.length, 'check')}, oldest first: ${counts.join(', ')}`;
}

/**
 * One mark per kept check, oldest first. The list is one stop for the Tab key; the arrow keys, Home
 * and End move along it, and the mark in focus (or under the pointer) is spelled out below it.
 */
export function HealthTimeline({ history, testId }: { history: Point[]; testId: string }) {
  const [current, setCurrent] = useState(history.length - 1);
  const [pointed, setPointed] = useState<number | null>(null);
  const marks = useRef<(HTMLElement | null)[]>([]);
  const shown = history[pointed ?? current] ?? history[history.length - 1];
  if (!shown) return null;

  const move = (to: number) => {
    const next = Math.max(0, Math.min(history.length - 1, to));
    setCurrent(next);
    marks.current[next]?.focus();
  };
  const onKeyDown = (event: KeyboardEvent<HTMLElement>) => {
    const steps: Record<string, number> = { ArrowLeft: current - 1, ArrowUp: current - 1, ArrowRight: current + 1, ArrowDown: current + 1, Home: 0, End: history.length - 1 };
    const to = steps[event.key];
    if (to === undefined) return;
    event.preventDefault();
    move(to);
  };

  return (
    <Stack space="space.100" testId={testId}>
      <Box xcss={chartStyles}>
        <Box as="ol" xcss={listStyles} aria-label={summary(history)} onKeyDown={onKeyDown} testId={`${testId}-marks`}>
          {history.map((point, i) => (
            <Box
              as="li"
              xcss={itemStyles}
              key={`${point.at}-${i}`}
              ref={(el: HTMLElement | null) => {
                marks.current[i] = el;
              }}
              tabIndex={i === current ? 0 : -1}
              title={sentence(point)}
              onFocus={() => setCurrent(i)}
              onMouseEnter={() => setPointed(i)}
              onMouseLeave={() => setPointed(null)}
              testId={`${testId}-mark`}
              data-health={point.health}
            >
              <Box xcss={[markStyles, verdictStyles[point.health]]} />
              <span style={hidden}>{sentence(point)}</span>
            </Box>
          ))}
        </Box>
        {/* The dates are in each mark's own words for screen readers: the axis is for the eye. */}
        <Box xcss={axisStyles} aria-hidden="true" testId={`${testId}-axis`}>
          {axisDays(history).map((d) => (
            <Text key={d.at} size="small" color="color.text.subtle">
              <time dateTime={d.at}>{d.label}</time>
            </Text>
          ))}
        </Box>
      </Box>
      <Text as="p" color="color.text.subtle" testId={`${testId}-detail`}>
        <span aria-hidden="true">{sentence(shown)}</span>
      </Text>
    </Stack>
  );
}
