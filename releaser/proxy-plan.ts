import type Docker from "dockerode";
import { LABEL } from "../core/names.js";

export const PROXY_CONTAINER = "berth-proxy";
export const PROXY_NETWORK = "berth-ingress";
export const CADDYFILE_PATH = "/etc/caddy/Caddyfile";

export const PROXY_SPEC_LABEL = "berth.proxy-spec";

export interface ProxySpec {
  image: string;
  httpPort: number;
  httpsPort: number;
}

/** The ingress proxy container: Caddy on its own network, publishing the ingress ports, certificates on a volume. */
export function planProxyContainer(spec: ProxySpec): Docker.ContainerCreateOptions {
  return {
    name: PROXY_CONTAINER,
    Image: spec.image,
    Cmd: ["caddy", "run", "--config", CADDYFILE_PATH, "--adapter", "caddyfile"],
    ExposedPorts: { "80/tcp": {}, "443/tcp": {}, "443/udp": {} },
    Labels: { [LABEL.managed]: "true", [LABEL.role]: "proxy", [PROXY_SPEC_LABEL]: proxySpecKey(spec) },
    HostConfig: {
      RestartPolicy: { Name: "unless-stopped" },
      NetworkMode: PROXY_NETWORK,
      PortBindings: {
        "80/tcp": [{ HostPort: String(spec.httpPort) }],
        "443/tcp": [{ HostPort: String(spec.httpsPort) }],
        "443/udp": [{ HostPort: String(spec.httpsPort) }],
      },
      Binds: ["berth-proxy-data:/data", "berth-proxy-config:/config"],
      LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
    },
  };
}

/** What the running proxy was created from; a different key means it must be recreated. */
export function proxySpecKey(spec: ProxySpec): string {
  return `${spec.image} http=${spec.httpPort} https=${spec.httpsPort}`;
}

/** The command that swaps the proxy's whole configuration in gracefully (in-flight requests finish). */
export function planProxyReload(): string[] {
  return ["caddy", "reload", "--config", CADDYFILE_PATH, "--adapter", "caddyfile"];
}
