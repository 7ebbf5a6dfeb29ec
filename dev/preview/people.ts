/**
 * Who the preview can act as. Forge tells the app who is calling; the preview lets the person at the
 * keyboard choose, so the admin-only paths can be tried from the other side.
 */
import { demoBitbucketCredentials as bb } from '../seed/index';

export const PEOPLE = {
  admin: { ...bb.admin, role: 'workspace admin' },
  writer: { ...bb.writer, role: 'can write to the repositories' },
  reader: { ...bb.reader, role: 'can read ml-models' },
  outsider: { ...bb.outsider, role: 'admin of another workspace' },
} as const;

export type Person = keyof typeof PEOPLE;

export const isPerson = (value: string | null): value is Person => value !== null && Object.hasOwn(PEOPLE, value);

/** The person named in a query string, the demo admin when none or an unknown one is named. */
export function personOf(query: URLSearchParams): Person {
  const as = query.get('as');
  return isPerson(as) ? as : 'admin';
}

export type ColorMode = 'light' | 'dark';

export function colorModeOf(query: URLSearchParams): ColorMode {
  return query.get('theme') === 'dark' ? 'dark' : 'light';
}
