/*
 * The one rule for the URL paths of berth.yaml, shared by the manifest (which reports a bad one at its
 * key) and by the planners that use them (the Caddyfile's path matchers, the health probe's request):
 * whatever the manifest accepts, they can use. It is RFC 3986's path: letters, digits, -._~,
 * the sub-delimiters !$&'()*+,;= (`*` is the matcher's wildcard), ":" and "@", and %XX for anything
 * else. That leaves out all a Caddyfile token cannot hold as written ({ } " ` \ and whitespace), what
 * Caddy's matcher reads as glob syntax ([ ]), and what Node refuses in a request path (non-Latin-1).
 */

const PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;
const QUERY = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;
const CHARACTERS = `letters, digits, "/" and -._~!$&'()*+,;=:@ only; percent-encode anything else (%20 for a space)`;

/** Why `path` cannot be a route (a path matcher of the ingress), or undefined when it can. */
export function routePathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "expected a path starting with /, such as /static/*";
  if (/[?#]/.test(path)) return "a route matches the path alone, never a query or fragment: remove the ? or # and what follows";
  if (!PATH.test(path)) return `expected ${CHARACTERS}`;
  return undefined;
}

/** Why `target` cannot be the path and query of a health probe's GET, or undefined when it can. */
export function requestPathProblem(target: string): string | undefined {
  const q = target.indexOf("?");
  const [path, query] = q < 0 ? [target, ""] : [target.slice(0, q), target.slice(q + 1)];
  if (!path.startsWith("/")) return "expected a path starting with /, such as /health";
  if (path.includes("#")) return "a request carries no fragment: remove the # and what follows";
  if (!PATH.test(path) || !QUERY.test(query)) return `expected ${CHARACTERS}`;
  return undefined;
}
