import type { Reply, ResolverName, ValueOf } from '../../../src/forge/contract';

export type ReplyOf<K extends ResolverName> = Reply<ValueOf<K>>;
