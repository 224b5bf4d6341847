import { randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { deliver, type Delivery } from "./webhooks.js";
import { FakeGitHubUsers } from "./fake-github-users.js";

export interface CheckRun {
  id: number;
  owner: string;
  repo: string;
  head_sha: string;
  name: string;
  status: string;
  conclusion?: string;
  details_url?: string;
  output?: { title: string; summary: string; text?: string };
  history: Record<string, unknown>[];
  /** When (Date.now() here) the fake recorded its conclusion. */
  concludedAt?: number;
}

export interface FakeDeployment {
  id: number;
  owner: string;
  repo: string;
  ref: string;
  environment: string;
  production_environment?: boolean;
  transient_environment?: boolean;
  statuses: { state: string; environment_url?: string; log_url?: string; description?: string; at?: number }[];
}

/** A webhook delivery as GitHub keeps it (`GET /app/hook/deliveries`), with what it sent. */
export interface HookDeliveryRecord {
  id: number;
  guid: string;
  event: string;
  payload: unknown;
  delivered_at: string;
  redelivery: boolean;
  /** 0: berth could not be reached. */
  status_code: number;
  status: string;
}

/**
 * A local stand-in for GitHub: the REST endpoints berth calls (under /api/v3, as on GitHub Enterprise)
 * and real git repositories served by `git http-backend` at /<owner>/<repo>.git (as github.com serves them), which require the installation
 * token that the fake issued.
 */
export class FakeGitHub {
  readonly checkRuns = new Map<number, CheckRun>();
  readonly deployments = new Map<number, FakeDeployment>();
  readonly requests: { method: string; path: string; at: number }[] = [];
  /** The account that owns the App (GET /app): its admins manage berth's servers. */
  appOwner = "octo-org";
  /** How long writes (POST, PATCH, DELETE) take to answer: a GitHub slower than this local fake. */
  writeDelayMs = 0;
  /** Issue comments by id, with the issue they belong to. */
  readonly comments = new Map<number, { issue: number; body: string; edits: number }>();
  /** Labels per pull request number. */
  readonly labels = new Map<number, Set<string>>();
  /** Pull request state and head, as GET /pulls/{n} reports it. */
  readonly pulls = new Map<number, { state: "open" | "closed"; head: string }>();
  /** Repository role per user login; anybody else is "read". */
  readonly roles = new Map<string, string>();
  /** Repositories the installation can see (`GET /repos/{owner}/{repo}`), by full name. */
  readonly repositories = new Map<string, { id: number; defaultBranch: string }>();
  readonly gitAuth: string[] = [];
  /** GitHub users, their access to repositories and the OAuth web flow (fake-github-users.ts). */
  readonly people = new FakeGitHubUsers(this.repositories);
  /** Every webhook delivery made through sendHook, redeliveries included, oldest first. */
  readonly hookDeliveries: HookDeliveryRecord[] = [];
  /** Where the App's webhook points, and its secret; set by the harness once berth listens. */
  hook: { url: string; secret: string } | undefined;
  private server: Server | undefined;
  private nextId = 1000;
  port = 0;

  constructor(readonly gitRoot: string) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  cloneUrl(owner: string, repo: string): string {
    return `http://${this.host}/${owner}/${repo}.git`; // where berth derives it from GHE_HOST and full_name
  }

  async start(): Promise<void> {
    await mkdir(this.gitRoot, { recursive: true });
    this.server = createServer((req, res) => void this.handle(req, res).catch((e) => {
      res.writeHead(500).end(String(e));
    }));
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    this.port = (this.server?.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Delivers a webhook to the App's URL as GitHub does, and keeps the delivery and berth's answer. */
  async sendHook(event: string, payload: unknown, guid?: string, redelivery = false): Promise<Delivery> {
    if (!this.hook) throw new Error("fake GitHub has no webhook URL");
    const record = (status_code: number, status: string, id: string): void => {
      this.hookDeliveries.push({ id: this.nextId++, guid: id, event, payload, delivered_at: new Date().toISOString(), redelivery, status_code, status });
    };
    const id = guid ?? randomUUID();
    try {
      const res = await deliver(this.hook.url, event, payload, this.hook.secret, id);
      record(res.status, res.status >= 200 && res.status < 300 ? "OK" : `Invalid HTTP Response: ${res.status}`, res.id);
      return res;
    } catch (e) {
      record(0, "failed to connect to host", id);
      throw e;
    }
  }

  checkRunsFor(sha: string): CheckRun[] {
    return [...this.checkRuns.values()].filter((c) => c.head_sha === sha);
  }

  commentsOn(issue: number): { id: number; body: string; edits: number }[] {
    return [...this.comments.entries()].filter(([, c]) => c.issue === issue).map(([id, c]) => ({ id, ...c }));
  }

  deploymentsFor(sha: string): FakeDeployment[] {
    return [...this.deployments.values()].filter((d) => d.ref === sha);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    if (/^\/[^/]+\/[^/]+\.git(\/|$)/.test(url.pathname)) return this.git(req, res, url);
    this.requests.push({ method: req.method ?? "", path: url.pathname, at: Date.now() });
    if (req.method !== "GET" && this.writeDelayMs > 0 && !url.pathname.endsWith("/access_tokens")) await new Promise((r) => setTimeout(r, this.writeDelayMs));
    const body = req.method === "GET" ? {} : await json(req);
    const send = (status: number, data: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(data));
    };
    const p = url.pathname.replace(/^\/api\/v3/, "");
    if (this.people.handle(req, url, p, body, send, res)) return;
    let m: RegExpExecArray | null;
    if (p === "/app" && req.method === "GET") {
      if (!/^bearer ey/i.test(req.headers.authorization ?? "")) return send(401, { message: "JWT required" });
      return send(200, { id: 1, slug: "berth-test", name: "berth (test)", owner: { login: this.appOwner, type: "Organization" } });
    }
    if ((m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(p)) && req.method === "POST") {
      if (!/^bearer ey/i.test(req.headers.authorization ?? "")) return send(401, { message: "JWT required" });
      return send(201, { token: `ghs_fake_${m[1]}`, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {}, repository_selection: "all" });
    }
    if (p.startsWith("/app/hook/deliveries")) {
      if (!/^bearer ey/i.test(req.headers.authorization ?? "")) return send(401, { message: "JWT required" });
      if (p === "/app/hook/deliveries" && req.method === "GET") {
        const rows = [...this.hookDeliveries].reverse().map(({ payload: _, ...d }) => d);
        return send(200, url.searchParams.get("cursor") ? [] : rows);
      }
      const attempt = /^\/app\/hook\/deliveries\/(\d+)\/attempts$/.exec(p);
      const original = attempt && req.method === "POST" ? this.hookDeliveries.find((d) => d.id === Number(attempt[1])) : undefined;
      if (!original) return send(404, { message: "Not Found" });
      // GitHub answers at once and redelivers shortly after, with the same delivery guid.
      setTimeout(() => void this.sendHook(original.event, original.payload, original.guid, true).catch(() => undefined), 50);
      return send(202, {});
    }
    if (!/^(token|bearer) ghs_fake_/i.test(req.headers.authorization ?? "")) return send(401, { message: "Bad credentials" });
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/check-runs$/.exec(p)) && req.method === "POST") {
      const id = this.nextId++;
      const run: CheckRun = { id, owner: m[1] ?? "", repo: m[2] ?? "", head_sha: body.head_sha, name: body.name, status: body.status ?? "queued", history: [body] };
      Object.assign(run, pick(body, ["conclusion", "details_url", "output"]));
      if (body.conclusion) Object.assign(run, { status: "completed", concludedAt: Date.now() });
      this.checkRuns.set(id, run);
      return send(201, run);
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/check-runs\/(\d+)$/.exec(p)) && req.method === "PATCH") {
      const run = this.checkRuns.get(Number(m[3]));
      if (!run) return send(404, { message: "Not Found" });
      run.history.push(body);
      Object.assign(run, pick(body, ["status", "conclusion", "details_url", "output"]));
      if (body.conclusion) Object.assign(run, { status: "completed", concludedAt: Date.now() });
      return send(200, run);
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/deployments$/.exec(p)) && req.method === "POST") {
      if (!Array.isArray(body.required_contexts)) return send(409, { message: "Conflict: commit status checks failed" });
      const id = this.nextId++;
      const d: FakeDeployment = { id, owner: m[1] ?? "", repo: m[2] ?? "", ref: body.ref, environment: body.environment, statuses: [] };
      Object.assign(d, pick(body, ["production_environment", "transient_environment"]));
      this.deployments.set(id, d);
      return send(201, d);
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/deployments\/(\d+)\/statuses$/.exec(p)) && req.method === "POST") {
      const d = this.deployments.get(Number(m[3]));
      if (!d) return send(404, { message: "Not Found" });
      d.statuses.push({ ...(body as FakeDeployment["statuses"][number]), at: Date.now() });
      return send(201, { id: this.nextId++, ...body });
    }
    if ((m = /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(p))) {
      const issue = Number(m[1]);
      if (req.method === "POST") {
        const id = this.nextId++;
        this.comments.set(id, { issue, body: body.body, edits: 0 });
        return send(201, { id, body: body.body });
      }
      const page = Number(url.searchParams.get("page") ?? 1);
      const all = [...this.comments.entries()].filter(([, c]) => c.issue === issue).map(([id, c]) => ({ id, body: c.body }));
      return send(200, page === 1 ? all : []);
    }
    if ((m = /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(p)) && req.method === "PATCH") {
      const c = this.comments.get(Number(m[1]));
      if (!c) return send(404, { message: "Not Found" });
      c.body = body.body;
      c.edits++;
      return send(200, { id: Number(m[1]), body: c.body });
    }
    if ((m = /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/labels\/(.+)$/.exec(p)) && req.method === "DELETE") {
      const set = this.labels.get(Number(m[1]));
      const name = decodeURIComponent(m[2] ?? "");
      if (!set?.has(name)) return send(404, { message: "Label does not exist" });
      set.delete(name);
      return send(200, [...set].map((n) => ({ name: n })));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)$/.exec(p)) && req.method === "GET") {
      const [owner = "", name = ""] = [decodeURIComponent(m[1] ?? ""), decodeURIComponent(m[2] ?? "")];
      const repo = this.repositories.get(`${owner}/${name}`);
      if (!repo) return send(404, { message: "Not Found" });
      return send(200, { id: repo.id, name, full_name: `${owner}/${name}`, default_branch: repo.defaultBranch, owner: { login: owner } });
    }
    if ((m = /^\/repos\/[^/]+\/[^/]+\/collaborators\/([^/]+)\/permission$/.exec(p))) {
      const role = this.roles.get(decodeURIComponent(m[1] ?? "")) ?? "read";
      const permission = role === "maintain" ? "write" : role === "triage" ? "read" : role;
      return send(200, { permission, role_name: role, user: { login: m[1] } });
    }
    if (/^\/repos\/[^/]+\/[^/]+\/pulls$/.test(p) && req.method === "GET") {
      const page = Number(url.searchParams.get("page") ?? 1);
      const open = [...this.pulls.entries()].filter(([, pr]) => pr.state === "open").map(([number, pr]) => ({ number, state: pr.state, head: { sha: pr.head } }));
      return send(200, page === 1 ? open : []);
    }
    if ((m = /^\/repos\/[^/]+\/[^/]+\/pulls\/(\d+)$/.exec(p))) {
      const pr = this.pulls.get(Number(m[1]));
      if (!pr) return send(404, { message: "Not Found" });
      return send(200, { number: Number(m[1]), state: pr.state, head: { sha: pr.head } });
    }
    send(404, { message: `fake GitHub has no ${req.method} ${p}` });
  }

  /** Smart HTTP through git http-backend (CGI), only for the token this fake handed out. */
  private async git(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = req.headers.authorization ?? "";
    const creds = auth.startsWith("Basic ") ? Buffer.from(auth.slice(6), "base64").toString() : "";
    if (!/^x-access-token:ghs_fake_\d+$/.test(creds)) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="fake github"' }).end("auth required\n");
      return;
    }
    this.gitAuth.push(creds);
    // FAKE_GITHUB_GIT_NICE: the git server's CPU priority, for benches where GitHub's serving of the
    // fetches must not count as load on berth's machine (on github.com it runs on GitHub's).
    const nice = process.env.FAKE_GITHUB_GIT_NICE;
    const child = spawn(nice ? "nice" : "git", nice ? ["-n", nice, "git", "http-backend"] : ["http-backend"], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: this.gitRoot,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: url.pathname,
        REQUEST_METHOD: req.method,
        QUERY_STRING: url.search.replace(/^\?/, ""),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_USER: "x-access-token",
        REMOTE_ADDR: "127.0.0.1",
        GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
        HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"] ?? ""),
      },
    });
    req.pipe(child.stdin);
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    await new Promise((r) => child.on("close", r));
    const out = Buffer.concat(chunks);
    const crlf = out.indexOf("\r\n\r\n");
    const split = crlf >= 0 ? crlf : out.indexOf("\n\n");
    const sep = crlf >= 0 ? 4 : 2;
    const head = out.subarray(0, split).toString();
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.split(/\r?\n/)) {
      const i = line.indexOf(":");
      const k = line.slice(0, i).trim();
      const v = line.slice(i + 1).trim();
      if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
      else if (k) headers[k] = v;
    }
    res.writeHead(status, headers).end(out.subarray(split + sep));
  }
}

async function json(req: IncomingMessage): Promise<Record<string, any>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  if (String(req.headers["content-type"] ?? "").includes("form-urlencoded")) return Object.fromEntries(new URLSearchParams(text));
  return text ? (JSON.parse(text) as Record<string, any>) : {};
}

const pick = (o: Record<string, unknown>, keys: string[]): Record<string, unknown> => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));

/** Path of a bare repository under the fake's git root. */
export const barePath = (gitRoot: string, owner: string, repo: string): string => join(gitRoot, owner, `${repo}.git`);
