import Lozenge, { type ThemeAppearance } from '@atlaskit/lozenge';
import { Inline, Text } from '@atlaskit/primitives';
import { keyAgeLevel, type ConnectionStatus } from '../../../../src/forge/contract';
import { healthLook } from '../components/health-look';

export type VerdictKind = 'healthy' | 'attention' | 'broken' | 'paused' | 'unchecked';

interface Verdict {
  kind: VerdictKind;
  label: string;
  appearance: ThemeAppearance;
  /** Said beside the verdict only when nothing on the page below says it. */
  reason?: string;
}

/**
 * The connection's one verdict, from everything the page knows of it: a pause (with its reason, which
 * the page then does not repeat), a project moved away or a failing fetch, the latest check, and the
 * key's age. Paused is neutral, never red: the connection may well work while the checks wait.
 */
export function connectionVerdict(connection: ConnectionStatus): Verdict {
  const { health } = connection;
  if (health.paused) return { kind: 'paused', ...healthLook.paused, reason: health.paused.reason };
  if (connection.movedAway || connection.sync.state === 'failing' || connection.sync.state === 'moved') return { kind: 'broken', ...healthLook.broken };
  const latest = health.latest?.health;
  if (latest === 'broken') return { kind: 'broken', ...healthLook.broken };
  if (latest === 'paused') return { kind: 'paused', ...healthLook.paused };
  if (latest === 'degraded' || keyAgeLevel(connection.keyAgeDays) !== 'ok' || connection.sync.state === 'behind') return { kind: 'attention', ...healthLook.degraded };
  if (latest === 'healthy') return { kind: 'healthy', ...healthLook.healthy };
  return { kind: 'unchecked', label: 'Not checked yet', appearance: 'default' };
}

/** The verdict as the page header shows it, beside the title. */
export function ConnectionVerdict({ connection }: { connection: ConnectionStatus }) {
  const verdict = connectionVerdict(connection);
  return (
    <div data-testid="connection-verdict" data-verdict={verdict.kind}>
      <Inline space="space.100" alignBlock="center" shouldWrap>
      <Lozenge appearance={verdict.appearance} isBold testId="connection-verdict-label">
        {verdict.label}
      </Lozenge>
      {verdict.reason && (
        <Text color="color.text.subtle" testId="connection-verdict-reason">
          {verdict.reason}
        </Text>
      )}
      </Inline>
    </div>
  );
}
