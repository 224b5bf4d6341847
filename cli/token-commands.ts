import type { Command } from "./command.js";
import { printed, UsageError } from "./command.js";

type TokenJson = { id: number; name: string; createdAt: string; lastUsedAt: string | null };

/** Your own API tokens (the one you use must be one of them, not the admin token). */
export const TOKEN_COMMANDS: Command[] = [
  {
    name: "tokens",
    usage: "",
    summary: "List your API tokens: id, name, created, last used.",
    positionals: [0, 0],
    run: async (ctx) => {
      const tokens = (await ctx.call("GET", "/tokens")) as TokenJson[];
      return printed(ctx, tokens, () => tokens.forEach((t) => ctx.out(`${t.id}\t${t.name}\tcreated ${t.createdAt}\tlast used ${t.lastUsedAt ?? "never"}`)));
    },
  },
  {
    name: "tokens revoke",
    usage: "<token-id>",
    summary: "Revoke one of your API tokens (berth tokens lists them).",
    positionals: [1, 1],
    run: async (ctx) => {
      if (!/^\d{1,9}$/.test(ctx.args[0]!)) throw new UsageError("expected a token id (berth tokens lists them)");
      await ctx.call("DELETE", `/tokens/${ctx.args[0]}`);
      return printed(ctx, { revoked: Number(ctx.args[0]) }, () => ctx.out(`revoked token ${ctx.args[0]}`));
    },
  },
];
