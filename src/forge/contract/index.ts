/**
 * The resolver API between the two settings pages (static/settings) and the Forge backend.
 *
 * One module on purpose, split by page: the pages import its types, the resolvers import its types
 * and validators, and the preview server answers the same calls, so a change here is a compile error
 * everywhere it matters. It has no imports with side effects, does no I/O and uses nothing of Node,
 * so it bundles into the browser too. Import it here, not its files.
 *
 * Rules every resolver follows:
 * - Payloads never name a workspace, repository or account: those come from the resolver's trusted
 *   context (`req.context.workspaceId`, `extension.repository.uuid`, `accountId`).
 * - Every reply is a `Reply<T>` envelope, never a thrown error: Forge turns a thrown error into an
 *   opaque message, and the pages must show the fix.
 * - Long work (connect, rotate, disconnect, verify) is an action: it returns `{ jobId }` at once and
 *   runs on the `connection-jobs` queue; the page polls `getJob` about once a second. A resolver call
 *   has a hard 25 s limit, a queue consumer 900 s.
 * - No reply ever carries a secret: stored tokens and private keys are write-only from the page.
 */
export * from './common';
export * from './workspace';
export * from './health';
export * from './repository';
export * from './fleet';
export * from './api';
export * from './payloads';

// The fetch-reference rules live with git's (the CLI uses them too, and never imports the Forge app).
export { branchOfRef, isValidRef } from '../../git/index';
