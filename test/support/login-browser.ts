import http from "node:http";
import https from "node:https";

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A browser, as far as logins go: cookies per hostname, redirects followed, *.localhost through the ingress. */
export class Browser {
  readonly jar = new Map<string, Map<string, string>>();
  /** Every Set-Cookie received, as sent, with its hostname: attributes are checked from here. */
  readonly setCookies: { hostname: string; header: string }[] = [];
  /** `httpsPort`: *.localhost URLs with https:// go to the ingress's HTTPS port with their SNI (any certificate). */
  constructor(
    private readonly ingressPort: number,
    private readonly httpsPort?: number,
  ) {}

  request(url: string, headers: Record<string, string> = {}): Promise<Answer> {
    const u = new URL(url);
    const viaIngress = u.hostname.endsWith(".localhost");
    const cookies = [...(this.jar.get(u.hostname) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join("; ");
    const all = { accept: "text/html", host: u.host, ...(cookies ? { cookie: cookies } : {}), ...headers };
    return new Promise((resolve, reject) => {
      const secure = u.protocol === "https:";
      const port = viaIngress ? (secure ? this.httpsPort : this.ingressPort) : Number(u.port || (secure ? 443 : 80));
      const options = { host: viaIngress ? "127.0.0.1" : u.hostname, port, path: u.pathname + u.search, headers: all, agent: false as const, timeout: 10_000 };
      const onResponse = (res: http.IncomingMessage): void => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          for (const c of [res.headers["set-cookie"] ?? []].flat()) {
            this.setCookies.push({ hostname: u.hostname, header: c });
            const [pair = ""] = c.split(";");
            const eq = pair.indexOf("=");
            const jar = this.jar.get(u.hostname) ?? new Map<string, string>();
            if (/max-age=0\b/i.test(c)) jar.delete(pair.slice(0, eq));
            else jar.set(pair.slice(0, eq), pair.slice(eq + 1));
            this.jar.set(u.hostname, jar);
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      };
      const req = secure ? https.get({ ...options, servername: u.hostname, rejectUnauthorized: false }, onResponse) : http.get(options, onResponse);
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
    });
  }

  /** Follows redirects from a URL; returns every hop's URL and the last answer. */
  async open(url: string): Promise<{ hops: string[]; last: Answer }> {
    const hops = [url];
    let last = await this.request(url);
    while (last.status >= 301 && last.status <= 308 && last.headers.location && hops.length < 15) {
      const next = new URL(last.headers.location, hops.at(-1)).href;
      hops.push(next);
      last = await this.request(next);
    }
    return { hops, last };
  }
}
