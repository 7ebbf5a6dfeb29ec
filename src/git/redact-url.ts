import { inert } from '../http/inert';

const MAX_SHOWN = 200;

/**
 * The URL as it may be shown in messages and logs: a password in the userinfo (`https://user:app-password@…`,
 * a common way to put credentials in `.gitmodules`) becomes `***`, hostile lengths are cut short, and
 * control characters are made visible.
 */
export function redactUrl(url: string): string {
  let shown = url;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(shown);
  if (scheme) {
    const start = scheme[0].length;
    const end = firstOf(shown, ['/', '?', '#'], start);
    const authority = shown.slice(start, end);
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const colon = authority.indexOf(':');
      if (colon >= 0 && colon < at) {
        shown = shown.slice(0, start) + authority.slice(0, colon) + ':***' + authority.slice(at) + shown.slice(end);
      }
    }
  }
  return inert(shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN)}… (${shown.length} characters)` : shown);
}

function firstOf(text: string, chars: string[], from: number): number {
  let best = text.length;
  for (const c of chars) {
    const i = text.indexOf(c, from);
    if (i >= 0 && i < best) best = i;
  }
  return best;
}
