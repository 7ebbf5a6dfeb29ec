import type { Reply, ResolverName, ValueOf } from '../../../src/forge/contract.js';

export type ReplyOf<K extends ResolverName> = Reply<ValueOf<K>>;
