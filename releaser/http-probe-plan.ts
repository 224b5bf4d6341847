/*
 * A health probe run on the droid's side: an HTTP client inside a container on the app's network,
 * so berth never connects to a bridge address (unreachable from anywhere but the droid itself).
 * The client is busybox wget, which the default proxy image (caddy:2-alpine) and the stand-in carry.
 */

/**
 * The argv that asks ip:port for path once, printing the server's status lines (`-S`) without
 * reading a body (`--spider`), killed by busybox `timeout` after timeoutMs: busybox wget's own `-T`
 * is missing or broken in some builds, and the Engine API cannot kill an exec berth stopped waiting for.
 */
export function planHttpProbe(ip: string, port: number, path: string, timeoutMs: number): string[] {
  // Whole seconds: busybox builds without FEATURE_FLOAT_SLEEP refuse fractions.
  const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  const host = ip.includes(":") ? `[${ip}]` : ip;
  return ["timeout", seconds, "wget", "-S", "--spider", "-q", "-U", "berth-health", `http://${host}:${port}${path.startsWith("/") ? path : `/${path}`}`];
}

/**
 * The status of the first response in the probe's output, or undefined when none came: wget follows
 * redirects, and the first answer is what the container itself said (a 3xx counts, as in a direct probe).
 */
export function probeStatus(output: string): number | undefined {
  const m = /^\s*HTTP\/\d(?:\.\d)?\s+(\d{3})\b/m.exec(output);
  return m ? Number(m[1]) : undefined;
}
