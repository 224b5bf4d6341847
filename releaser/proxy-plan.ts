import type Docker from "dockerode";
import { DEFAULT_INSTANCE, LABEL } from "../core/names.js";

/** The fixed names of an installation's proxy: `<instance>-proxy` and so on (berth-proxy for the default). */
export function proxyNames(instance: string): { container: string; network: string; data: string; config: string } {
  return { container: `${instance}-proxy`, network: `${instance}-ingress`, data: `${instance}-proxy-data`, config: `${instance}-proxy-config` };
}

/** The default installation's proxy container. */
export const PROXY_CONTAINER = proxyNames(DEFAULT_INSTANCE).container;
export const CADDYFILE_PATH = "/etc/caddy/Caddyfile";

export const PROXY_SPEC_LABEL = "berth.proxy-spec";

export interface ProxySpec {
  /** The installation (BERTH_INSTANCE) whose proxy this is; absent: the default. */
  instance?: string;
  image: string;
  httpPort: number;
  httpsPort: number;
  /** The server's kernel hands a closing listener's queued connections to its successor (see MIGRATE_REQUESTS). */
  migrateRequests?: boolean;
}

/**
 * Caddy opens a new SO_REUSEPORT socket on every reload and closes the old one. Linux resets the
 * connections still queued on a closed listener (new connections fail with a reset, ~1 reload in 8
 * under steady traffic, measured) unless this sysctl, per network namespace since 5.14, migrates them
 * to the listener that stays.
 */
export const MIGRATE_REQUESTS = "net.ipv4.tcp_migrate_req";

/** Whether a kernel (`uname -r`, as the engine reports it) has MIGRATE_REQUESTS: 5.14 or newer. */
export function kernelMigratesRequests(kernel: string | undefined): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernel ?? "");
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 5 || (major === 5 && minor >= 14);
}

/** The ingress proxy container: Caddy on its own network, publishing the ingress ports, certificates on a volume. */
export function planProxyContainer(spec: ProxySpec): Docker.ContainerCreateOptions {
  const names = proxyNames(spec.instance ?? DEFAULT_INSTANCE);
  return {
    name: names.container,
    Image: spec.image,
    Cmd: ["caddy", "run", "--config", CADDYFILE_PATH, "--adapter", "caddyfile"],
    ExposedPorts: { "80/tcp": {}, "443/tcp": {}, "443/udp": {} },
    Labels: { [LABEL.managed]: "true", [LABEL.role]: "proxy", [PROXY_SPEC_LABEL]: proxySpecKey(spec) },
    HostConfig: {
      RestartPolicy: { Name: "unless-stopped" },
      NetworkMode: names.network,
      PortBindings: {
        "80/tcp": [{ HostPort: String(spec.httpPort) }],
        "443/tcp": [{ HostPort: String(spec.httpsPort) }],
        "443/udp": [{ HostPort: String(spec.httpsPort) }],
      },
      Binds: [`${names.data}:/data`, `${names.config}:/config`],
      LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
      ...(spec.migrateRequests ? { Sysctls: { [MIGRATE_REQUESTS]: "1" } } : {}),
    },
  };
}

/** What the running proxy was created from; a different key means it must be recreated. */
export function proxySpecKey(spec: ProxySpec): string {
  return `${spec.image} http=${spec.httpPort} https=${spec.httpsPort}${spec.migrateRequests ? " migrate-requests" : ""}`;
}

/** The command that swaps the proxy's whole configuration in gracefully (in-flight requests finish). */
export function planProxyReload(): string[] {
  return ["caddy", "reload", "--config", CADDYFILE_PATH, "--adapter", "caddyfile"];
}
