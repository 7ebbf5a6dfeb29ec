/**
 * The functions manifest.yml names: `forge/index.resolver`, `forge/index.jobConsumer`,
 * `forge/index.onPush`, `forge/index.onSchedule`. Everything behind them is the same backend the preview and the tests run.
 */
import { createForgePlatform } from './platform/forge';
import { createForgeHandlers } from './handlers';

const handlers = createForgeHandlers(createForgePlatform());

export const resolver = handlers.resolver;
export const jobConsumer = handlers.jobConsumer;
export const onPush = handlers.onPush;
export const onSchedule = handlers.onSchedule;
