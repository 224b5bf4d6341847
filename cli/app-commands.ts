import type { Command, CommandContext } from "./command.js";
import { printed, UsageError } from "./command.js";

interface DeploymentJson {
  id: number;
  environment: string;
  sha: string;
  state: string;
  url: string | null;
}

const scope = (ctx: CommandContext): string => (ctx.values.previews ? "?scope=previews" : "");
const PREVIEWS = { previews: { type: "boolean" } } as const;
const PREVIEWS_HELP = "--previews: the value previews get instead of production's (the only one fork and bot previews get).";

/** Apps, their deployments, rollbacks, secrets, runtime logs and URLs. */
export const APP_COMMANDS: Command[] = [
  {
    name: "apps",
    usage: "",
    summary: "List the apps and their repositories.",
    positionals: [0, 0],
    run: async (ctx) => {
      const apps = (await ctx.call("GET", "/apps")) as { name: string; repository: string }[];
      return printed(ctx, apps, () => apps.forEach((a) => ctx.out(`${a.name}\t${a.repository}`)));
    },
  },
  {
    name: "apps set",
    usage: "<app> build-concurrency=<N|default>",
    summary: "Change an app's setting: how many of its builds run at once.",
    positionals: [2, 2],
    run: async (ctx) => {
      const [app, setting] = ctx.args as [string, string];
      const m = /^build-concurrency=(\d+|default)$/.exec(setting);
      if (!m) throw new UsageError("expected build-concurrency=<N> (1-64) or build-concurrency=default");
      const a = (await ctx.call("PATCH", `/apps/${app}`, { buildConcurrency: m[1] === "default" ? null : Number(m[1]) })) as { buildConcurrency: number | null };
      return printed(ctx, a, () => ctx.out(`${app}: build concurrency ${a.buildConcurrency ?? "default (BERTH_APP_BUILD_CONCURRENCY)"}`));
    },
  },
  {
    name: "deployments",
    usage: "<app>",
    summary: "List an app's deployments, newest first: id, environment, commit, state, URL.",
    positionals: [1, 1],
    run: async (ctx) => {
      const list = (await ctx.call("GET", `/apps/${ctx.args[0]}/deployments`)) as DeploymentJson[];
      return printed(ctx, list, () => list.forEach((d) => ctx.out(`${d.id}\t${d.environment}\t${d.sha.slice(0, 7)}\t${d.state}\t${d.url ?? ""}`)));
    },
  },
  {
    name: "rollback",
    usage: "<app> [deployment-id]",
    summary: "Release production's previous release again (or a deployment that once went live), without a build.",
    positionals: [1, 2],
    run: async (ctx) => {
      const [app, id] = ctx.args as [string, string | undefined];
      if (id !== undefined && !/^\d{1,9}$/.test(id)) throw new UsageError("expected a deployment id (berth deployments <app> lists them)");
      const d = (await ctx.call("POST", `/apps/${app}/rollback`, id ? { deployment: Number(id) } : undefined)) as { id: number; sha: string; rollbackOf: number };
      return printed(ctx, d, () => ctx.out(`rolling back ${app} to ${d.sha.slice(0, 7)} (deployment ${d.rollbackOf}) as deployment ${d.id}; berth deployments ${app} shows when it is live`));
    },
  },
  {
    name: "open",
    usage: "<app> [--env production|pr-<N>]",
    summary: "Print the URL an environment is live at.",
    options: { env: { type: "string" } },
    positionals: [1, 1],
    run: async (ctx) => {
      const env = (ctx.values.env as string | undefined) ?? "production";
      const list = (await ctx.call("GET", `/apps/${ctx.args[0]}/deployments`)) as DeploymentJson[];
      const live = list.find((d) => d.environment === env && d.state === "live" && d.url);
      if (!live) {
        ctx.out(`berth: ${ctx.args[0]} ${env} is not live`);
        return 1;
      }
      return printed(ctx, { url: live.url }, () => ctx.out(live.url ?? ""));
    },
  },
  {
    name: "secrets list",
    usage: "<app>",
    summary: "List an app's secrets: names, the scopes each has a value for, when set. Never values.",
    positionals: [1, 1],
    run: async (ctx) => {
      const list = (await ctx.call("GET", `/apps/${ctx.args[0]}/secrets`)) as { name: string; scopes: string[]; updatedAt: string }[];
      return printed(ctx, list, () => list.forEach((s) => ctx.out(`${s.name}\t${s.scopes.join(",")}\t${s.updatedAt}`)));
    },
  },
  {
    name: "secrets set",
    usage: "<app> <NAME> [--previews]",
    summary: "Set a secret. The value is read from stdin, or asked for without echo: never an argument, so it stays out of shell history.",
    help: PREVIEWS_HELP,
    options: PREVIEWS,
    positionals: [2, 2],
    run: async (ctx) => {
      const [app, name] = ctx.args as [string, string];
      const value = await ctx.readSecret(`value of ${name}: `);
      await ctx.call("PUT", `/apps/${app}/secrets/${encodeURIComponent(name)}${scope(ctx)}`, { value });
      return printed(ctx, { app, name, scope: ctx.values.previews ? "previews" : "production" }, () => ctx.out(`set ${name} for ${app}${ctx.values.previews ? " (previews)" : ""}`));
    },
  },
  {
    name: "secrets rm",
    usage: "<app> <NAME> [--previews]",
    summary: "Remove a secret's value.",
    help: PREVIEWS_HELP,
    options: PREVIEWS,
    positionals: [2, 2],
    run: async (ctx) => {
      const [app, name] = ctx.args as [string, string];
      await ctx.call("DELETE", `/apps/${app}/secrets/${encodeURIComponent(name)}${scope(ctx)}`);
      return printed(ctx, { app, name, removed: true }, () => ctx.out(`removed ${name} from ${app}${ctx.values.previews ? " (previews)" : ""}`));
    },
  },
  {
    name: "logs",
    usage: "<app> [-f] [--env production|pr-<N>] [--process NAME] [--tail N]",
    summary: "Print an environment's runtime logs (web, processes, services); -f follows them live.",
    help: "--process: only that process or service (web for the web container). --tail: lines to start with (default 100).",
    options: { follow: { type: "boolean", short: "f" }, env: { type: "string" }, process: { type: "string" }, tail: { type: "string" } },
    positionals: [1, 1],
    run: async (ctx) => {
      const tail = (ctx.values.tail as string | undefined) ?? "100";
      if (!/^\d{1,5}$/.test(tail)) throw new UsageError("--tail expects a number of lines");
      const q = new URLSearchParams({ environment: (ctx.values.env as string | undefined) ?? "production", tail });
      if (ctx.values.process) q.set("process", ctx.values.process as string);
      if (ctx.values.follow) q.set("follow", "true");
      const res = await ctx.stream(`/apps/${encodeURIComponent(ctx.args[0]!)}/logs?${q}`);
      const decoder = new TextDecoder();
      let rest = "";
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) if (line) ctx.out(ctx.json ? line : logText(line));
      }
      if (rest) ctx.out(ctx.json ? rest : logText(rest));
      return 0;
    },
  },
];

/** One NDJSON log record (`{time, container, process, stream, line}`) as text: `process  line`. */
function logText(line: string): string {
  try {
    const r = JSON.parse(line) as { process?: string; line?: string; error?: string };
    if (r.error) return `berth: ${r.error}`;
    return `${(r.process ?? "").padEnd(8)} ${r.line ?? ""}`;
  } catch {
    return line;
  }
}
