const PUBLIC_API = "https://api.github.com";

/**
 * A fetch for Probot that sends requests meant for api.github.com to a GitHub Enterprise Server API.
 * Probot 14 honours `baseUrl` for API calls but builds the App's own authentication requests
 * (installation access tokens) with a bare `@octokit/request` that only inherits `fetch`, so on GHES
 * those would go to github.com. Passing this fetch keeps every request on the configured server.
 */
export function enterpriseFetch(apiUrl: string, base: typeof fetch = fetch): typeof fetch {
  const target = apiUrl.replace(/\/+$/, "");
  if (target === PUBLIC_API) return base;
  return (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (url === PUBLIC_API || url.startsWith(`${PUBLIC_API}/`)) {
      const moved = target + url.slice(PUBLIC_API.length);
      // A Request carries its own method, headers and body: keep them, only the URL changes.
      return base(input instanceof Request ? new Request(moved, input) : moved, init);
    }
    return base(input, init);
  };
}
