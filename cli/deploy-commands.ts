import type { Command } from "./command.js";
import { printed, UsageError } from "./command.js";

type Brief = { id: number; sha: string; environment: string };

/** Deployments an operator starts, stops or moves. */
export const DEPLOY_COMMANDS: Command[] = [
  {
    name: "redeploy",
    usage: "<app> [--env production|pr-<N>] [--sha <commit>]",
    summary: "Build and release an environment again: the commit it runs, or --sha.",
    options: { env: { type: "string" }, sha: { type: "string" } },
    positionals: [1, 1],
    run: async (ctx) => {
      const app = ctx.args[0]!;
      const d = (await ctx.call("POST", `/apps/${app}/deployments`, { environment: (ctx.values.env as string | undefined) ?? "production", ...(ctx.values.sha ? { sha: ctx.values.sha } : {}) })) as Brief;
      return printed(ctx, d, () => ctx.out(`redeploying ${app} ${d.environment} at ${d.sha.slice(0, 7)} as deployment ${d.id}; berth deployments ${app} shows when it is live`));
    },
  },
  {
    name: "cancel",
    usage: "<deployment-id>",
    summary: "Stop a deployment that is queued, waiting or building.",
    positionals: [1, 1],
    run: async (ctx) => {
      if (!/^\d{1,9}$/.test(ctx.args[0]!)) throw new UsageError("expected a deployment id (berth deployments <app> lists them)");
      const d = (await ctx.call("POST", `/deployments/${ctx.args[0]}/cancel`)) as Brief;
      return printed(ctx, d, () => ctx.out(`cancelled deployment ${d.id} (${d.environment} ${d.sha.slice(0, 7)})`));
    },
  },
  {
    name: "move",
    usage: "<app> <server> [--env production|pr-<N>]",
    summary: "Place an environment on another server and release it there (refused when volumes hold data).",
    options: { env: { type: "string" } },
    positionals: [2, 2],
    run: async (ctx) => {
      const [app, server] = ctx.args as [string, string];
      const r = (await ctx.call("POST", `/apps/${app}/move`, { server, environment: (ctx.values.env as string | undefined) ?? "production" })) as { environment: string; from: string | null; to: string; deployment: { id: number } | null };
      return printed(ctx, r, () => ctx.out(r.deployment ? `moving ${app} ${r.environment} from ${r.from} to ${r.to} as deployment ${r.deployment.id}; berth deployments ${app} shows when it is live` : `${app} ${r.environment} runs nothing yet: its next release starts on ${r.to}`));
    },
  },
];
