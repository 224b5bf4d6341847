import { describe, expect, it } from "vitest";
import { planHttpProbe, probeStatus } from "../../releaser/http-probe-plan.js";

describe("planHttpProbe", () => {
  it("asks once for the status lines, bounded by busybox timeout", () => {
    expect(planHttpProbe("10.230.1.5", 8080, "/health?x=1", 2000)).toEqual([
      "timeout", "2", "wget", "-S", "--spider", "-q", "-U", "berth-health", "http://10.230.1.5:8080/health?x=1",
    ]);
  });

  it("rounds the deadline up to whole seconds, brackets IPv6 and roots a relative path", () => {
    expect(planHttpProbe("fd00::5", 80, "up", 1500)[1]).toBe("2");
    expect(planHttpProbe("fd00::5", 80, "up", 20)).toEqual(["timeout", "1", "wget", "-S", "--spider", "-q", "-U", "berth-health", "http://[fd00::5]:80/up"]);
  });
});

describe("probeStatus", () => {
  it("reads the first response's status, not the one a redirect led to", () => {
    expect(probeStatus("  HTTP/1.1 302 Found\n  Location: /login\n  HTTP/1.1 200 OK\n")).toBe(302);
    expect(probeStatus("  HTTP/1.1 404 Not Found\nwget: server returned error: HTTP/1.1 404 Not Found\n")).toBe(404);
    expect(probeStatus("  HTTP/1.0 200 OK\r\n")).toBe(200);
  });

  it("is undefined when nothing answered", () => {
    expect(probeStatus("wget: can't connect to remote host (10.230.1.5): Connection refused\n")).toBeUndefined();
    expect(probeStatus("Terminated\n")).toBeUndefined();
    expect(probeStatus("")).toBeUndefined();
  });
});
