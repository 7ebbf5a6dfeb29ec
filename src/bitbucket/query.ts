/**
 * How values go into Bitbucket paths and BBQL filters, for the client and the workspace and permission
 * reads alike: one rule each, so a value is never quoted one way here and another there.
 */
import { encodePathSegment, InvalidPathSegmentError } from '../http/path';

const UUID = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/;

/** `{uuid}` with braces, lower case; refuses anything that is not a UUID. */
export function braceUuid(value: string, what: string): string {
  const m = UUID.exec(value.trim());
  if (!m) throw new InvalidPathSegmentError(what, `The ${what} must be a UUID like {85d67b4e-571d-44e9-a507-fa476935aa98}.`);
  return `{${(m[1] as string).toLowerCase()}}`;
}

/** A workspace named by its UUID (`%7Buuid%7D`) or, when it is no UUID, by its slug, as one path segment. */
export function workspaceSegment(workspace: string): string {
  return UUID.test(workspace.trim()) ? workspaceUuidSegment(workspace) : encodePathSegment(workspace, 'workspace');
}

/** A workspace named by its UUID as one path segment: `%7Buuid%7D`. */
export function workspaceUuidSegment(workspaceId: string): string {
  return encodeURIComponent(braceUuid(workspaceId, 'workspace'));
}

/** A BBQL string literal: double-quoted, with `"` and `\` escaped. */
export function bbqlString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
