/**
 * Links a server hands back (pagination `next`) are input, never a destination: each is resolved
 * against the API root this process was configured with, and refused unless it names a path below that
 * root on the same origin. A path that is itself an address (`/api/v0/http://other/x`, its
 * percent-encoded or protocol-relative forms) is refused too: some HTTP clients let such a path replace
 * the base URL, and the credentials would travel with it.
 */

export type LinkVerdict =
  /** The path below the root, starting with `/`, with the link's query string. */
  | { path: string }
  /** Why the link is not followed: a phrase after "pointed to", e.g. "another host (http://x)". */
  | { refused: string };

function decodeOnce(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Whether a path below the root would read as an address of its own once decoded (up to twice). */
function looksLikeAddress(rest: string): boolean {
  const forms = [rest, decodeOnce(rest)];
  forms.push(decodeOnce(forms[1] as string));
  return forms.some(
    (form) =>
      form.includes('\\') ||
      /^\/{2}/.test(form) ||
      // a scheme in the first segment: "http:", "https:", "javascript:" ...
      /^\/*[a-z][a-z0-9+.-]*:/i.test(form),
  );
}

/**
 * `link` (absolute, or relative to `root`) as a path below `root`, or the reason it is refused.
 * `root` is an absolute API root such as `https://api.bitbucket.org/2.0` (a trailing slash is ignored).
 */
export function linkBelow(root: string, link: string): LinkVerdict {
  const base = new URL(root.replace(/\/+$/, '') + '/');
  let url: URL;
  try {
    url = new URL(link, base);
  } catch {
    return { refused: 'an unreadable address' };
  }
  if (url.username || url.password) return { refused: 'an address with credentials in it' };
  if (url.origin !== base.origin) return { refused: `another host (${url.origin}, not ${base.origin})` };
  if (!url.pathname.startsWith(base.pathname)) return { refused: `a path outside the API (${base.pathname})` };
  const rest = url.pathname.slice(base.pathname.length - 1);
  if (looksLikeAddress(rest)) return { refused: 'a path that is itself an address' };
  return { path: `${rest}${url.search}` };
}
