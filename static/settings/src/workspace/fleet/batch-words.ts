import { xcss } from '@atlaskit/primitives';
import type { BatchAction } from '../../../../../src/forge/contract';

/** What each bulk action is called where the plan, the progress and the summary name it. */
export const verbs: Record<BatchAction, { verb: string; button: string; done: string }> = {
  rotate: { verb: 'Rotate', button: 'Rotate', done: 'rotated' },
  verify: { verb: 'Verify', button: 'Verify', done: 'verified' },
  disconnect: { verb: 'Disconnect', button: 'Disconnect', done: 'disconnected' },
  connect: { verb: 'Connect', button: 'Connect', done: 'connected' },
};

export const listStyles = xcss({ margin: 'space.0', paddingInlineStart: 'space.250' });
