import { publicName } from "../core/names.js";
import type { Sensitive } from "../core/sensitive.js";
import { DOMAIN_NAME, MAX_DOMAINS } from "../manifest/domains.js";
import type { Db } from "../store/db.js";
import { listDomains } from "../store/domain-store.js";
import { findAppByName } from "../store/queries.js";
import { apiAllowed } from "./admin-session.js";
import { readJson, sendError, sendJson, type Route } from "./respond.js";

/**
 * An app's custom domains under /api/v1/apps/{app}/domains: GET lists each with whether it is routed
 * and, if not, the DNS record to add; POST `{"name", "redirect_to"}` adds one (checked on the next
 * reconciler pass, like berth.yaml's); DELETE …/domains/{name} removes one the API added.
 */
export function domainRoutes(db: Db, token: Sensitive | undefined): Route {
  return async (req, res, url) => {
    const m = /^\/api\/v1\/apps\/([a-z0-9-]+)\/domains(?:\/([a-z0-9.-]{1,253}))?$/.exec(url.pathname.replace(/\/+$/, ""));
    if (!m) return false;
    if (!apiAllowed(req, res, token)) return true;
    const app = await findAppByName(db, m[1] ?? "");
    if (!app) {
      sendError(res, 404, `No app named ${m[1]}; GET /api/v1/apps lists them.`);
      return true;
    }
    const name = m[2];
    if (req.method === "GET" && !name) {
      const rows = await listDomains(db, app.id);
      sendJson(res, 200, rows.map((d) => ({ name: d.name, redirectTo: d.redirect_to, source: d.source, state: d.verified ? "routed" : "pending", problem: d.problem, checkedAt: d.checked_at })));
      return true;
    }
    if (req.method === "POST" && !name) {
      const body = (await readJson(req, 4096)) as { name?: unknown; redirect_to?: unknown } | undefined;
      const valid = (v: unknown): v is string => typeof v === "string" && DOMAIN_NAME.test(v);
      if (!body || !valid(body.name) || (body.redirect_to !== undefined && !valid(body.redirect_to))) {
        sendError(res, 400, 'Send {"name": "shop.example.com"} and optionally {"redirect_to": "<another domain of this app>"}.');
        return true;
      }
      const mine = await listDomains(db, app.id);
      if (mine.length >= MAX_DOMAINS) {
        sendError(res, 409, `${publicName(app)} has ${MAX_DOMAINS} domains, the most an app may have.`);
        return true;
      }
      if (body.redirect_to !== undefined && !mine.some((d) => d.name === body.redirect_to && !d.redirect_to)) {
        sendError(res, 400, `redirect_to must be another domain of ${publicName(app)} that serves it itself.`);
        return true;
      }
      const inserted = await db.insertInto("domains").values({ app_id: app.id, name: body.name, redirect_to: (body.redirect_to as string | undefined) ?? null, source: "api" }).onConflict((oc) => oc.column("name").doNothing()).returning("id").executeTakeFirst();
      if (!inserted) {
        const holder = await db.selectFrom("domains").innerJoin("apps", "apps.id", "domains.app_id").select(["apps.name", "apps.public_name"]).where("domains.name", "=", body.name).executeTakeFirst();
        sendError(res, 409, `${body.name} belongs to the app ${holder?.public_name ?? holder?.name}; remove it there first.`);
        return true;
      }
      sendJson(res, 201, { name: body.name, state: "pending", problem: "checked on the next reconciler pass" });
      return true;
    }
    if (req.method === "DELETE" && name) {
      const r = await db.deleteFrom("domains").where("app_id", "=", app.id).where("name", "=", name).where("source", "=", "api").executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) sendError(res, 404, `${publicName(app)} has no domain ${name} added through the API (berth.yaml's are removed from berth.yaml).`);
      else res.writeHead(204).end();
      return true;
    }
    sendError(res, 405, "GET or POST /api/v1/apps/{app}/domains, DELETE /api/v1/apps/{app}/domains/{name}.");
    return true;
  };
}
