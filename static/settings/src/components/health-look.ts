import type { ThemeAppearance } from '@atlaskit/lozenge';
import type { ConnectionHealth, HealthTrigger } from '../../../../src/forge/contract';

/**
 * A verdict as every view shows it. Paused is neutral, never red: the connection may well work, only
 * the app's own checks wait for a new token.
 */
export const healthLook: Record<ConnectionHealth, { label: string; appearance: ThemeAppearance }> = {
  healthy: { label: 'Healthy', appearance: 'success' },
  degraded: { label: 'Needs attention', appearance: 'moved' },
  broken: { label: 'Broken', appearance: 'removed' },
  paused: { label: 'Paused', appearance: 'default' },
};

export const triggerWords: Record<HealthTrigger, string> = {
  schedule: 'a scheduled check',
  push: 'a push',
  verify: 'Verify',
};
