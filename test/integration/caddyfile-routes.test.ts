import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, expect, it } from "vitest";
import { routePathProblem } from "../../core/url-path.js";
import { planIngress, renderCaddyfile } from "../../releaser/ingress-plan.js";

/**
 * The real Caddy (installed by scripts/deps.sh; the proxy stand-in is made from it) loads a Caddyfile
 * whose path routes use every kind of character the route rule lets through, so what the manifest
 * accepts is a config the proxy takes, not only one berth can render.
 */
const dir = mkdtempSync(join(tmpdir(), "berth-caddyfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("caddy validate accepts path routes with every character class the manifest accepts", async () => {
  const paths = ["/static/*", "/@admin/*", "/a+b", "/x:y;z=1", "/$&'()!,", "/%7Euser/*", "/%E2%9C%93", "/-._~", "/a/*/b", "/"];
  for (const p of paths) expect(routePathProblem(p)).toBeUndefined();
  const config = planIngress([{ hostname: "shop.localhost", upstream: "berth-shop-web:8080", paths: paths.map((path, i) => ({ path, upstreams: [`berth-shop-p${i}:80`] })) }], false);
  const file = join(dir, "Caddyfile");
  writeFileSync(file, renderCaddyfile(config));
  const result = await execa("caddy", ["validate", "--config", file, "--adapter", "caddyfile"], { reject: false, env: { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
  expect(result.stderr + result.stdout).toContain("Valid configuration");
  expect(result.exitCode).toBe(0);
});
