import { publicName } from "../core/names.js";
import { DOMAIN_NAME, MAX_DOMAINS } from "../manifest/domains.js";
import type { Db } from "../store/db.js";
import { listDomains } from "../store/domain-store.js";
import type { ApiRoute } from "./api-router.js";
import { APP_PARAM, DOMAIN, empty, err, json, list, obj, str } from "./api-schemas.js";
import { sendError, sendJson } from "./respond.js";

const DOMAIN_SCHEMA = { type: "string", pattern: DOMAIN_NAME.source, maxLength: 253 } as const;

/**
 * An app's custom domains under /api/v1/apps/{app}/domains: GET lists each with whether it is routed
 * and, if not, the DNS record to add; POST `{"name", "redirect_to"}` adds one (checked on the next
 * reconciler pass, like berth.yaml's); DELETE …/domains/{name} removes one the API added.
 */
export function domainRoutes(db: Db): ApiRoute[] {
  return [
    {
      method: "GET", path: "/api/v1/apps/{app}/domains", auth: "read", summary: "An app's custom domains and whether each is routed", params: { app: APP_PARAM },
      responses: { 200: json("the domains", list(DOMAIN)), 404: err("no such app") },
      handle: async ({ res, app }) => {
        const rows = await listDomains(db, app.id);
        sendJson(res, 200, rows.map((d) => ({ name: d.name, redirectTo: d.redirect_to, source: d.source, state: d.verified ? "routed" : "pending", problem: d.problem, checkedAt: d.checked_at })));
      },
    },
    {
      method: "POST", path: "/api/v1/apps/{app}/domains", auth: "write", summary: "Add a custom domain (routed once its DNS points at the ingress)", params: { app: APP_PARAM },
      body: {
        schema: { type: "object", properties: { name: DOMAIN_SCHEMA, redirect_to: DOMAIN_SCHEMA }, required: ["name"] },
        maxBytes: 4096,
        example: { name: "shop.example.com" },
        invalid: 'Send {"name": "shop.example.com"} and optionally {"redirect_to": "<another domain of this app>"}.',
      },
      responses: { 201: json("added, pending its DNS check", obj({ name: str, state: str, problem: str })), 400: err("a bad body"), 404: err("no such app"), 409: err("taken by another app, or too many domains") },
      handle: async ({ res, app, body }) => {
        const b = body as { name: string; redirect_to?: string };
        const mine = await listDomains(db, app.id);
        if (mine.length >= MAX_DOMAINS) return sendError(res, 409, `${publicName(app)} has ${MAX_DOMAINS} domains, the most an app may have.`);
        if (b.redirect_to !== undefined && !mine.some((d) => d.name === b.redirect_to && !d.redirect_to)) {
          return sendError(res, 400, `redirect_to must be another domain of ${publicName(app)} that serves it itself.`);
        }
        const inserted = await db.insertInto("domains").values({ app_id: app.id, name: b.name, redirect_to: b.redirect_to ?? null, source: "api" }).onConflict((oc) => oc.column("name").doNothing()).returning("id").executeTakeFirst();
        if (!inserted) {
          const holder = await db.selectFrom("domains").innerJoin("apps", "apps.id", "domains.app_id").select(["apps.name", "apps.public_name"]).where("domains.name", "=", b.name).executeTakeFirst();
          return sendError(res, 409, `${b.name} belongs to the app ${holder?.public_name ?? holder?.name}; remove it there first.`);
        }
        sendJson(res, 201, { name: b.name, state: "pending", problem: "checked on the next reconciler pass" });
      },
    },
    {
      method: "DELETE", path: "/api/v1/apps/{app}/domains/{name}", auth: "write", summary: "Remove a domain the API added", params: { app: APP_PARAM, name: { type: "string", pattern: "^[a-z0-9.-]{1,253}$" } },
      responses: { 204: empty("removed"), 404: err("no such app, or no such domain added through the API") },
      handle: async ({ res, app, params }) => {
        const r = await db.deleteFrom("domains").where("app_id", "=", app.id).where("name", "=", params.name!).where("source", "=", "api").executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) sendError(res, 404, `${publicName(app)} has no domain ${params.name} added through the API (berth.yaml's are removed from berth.yaml).`);
        else res.writeHead(204).end();
      },
    },
  ];
}
