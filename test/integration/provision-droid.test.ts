import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { droidForSuite, provisionDroid } from "../support/droid.js";

// scripts/provision-droid.sh run in full, as on a fresh Debian host without systemd, inside the
// droid's own network and mount namespaces (test/support/droid.sh provision).
describe("scripts/provision-droid.sh on a fresh host", () => {
  const it$ = droidForSuite(provisionDroid);

  it("prints the exact berth servers add command with the client bundle to copy", () => {
    const { address, slot, certsDir } = it$();
    expect(it$().printed).toBe(
      [
        "",
        "Copy the client bundle to berth's host (it is a root login on this server: keep it private):",
        `  scp -r root@${address}:${certsDir}/client ./droid-${slot}-tls`,
        "Open 2376/tcp to berth's host only, and 80/443 to the front door. Then, on berth's host:",
        `  berth servers add droid-${slot} --docker tcp://${address}:2376 --tls-dir ./droid-${slot}-tls`,
        "",
      ].join("\n"),
    );
  });

  it("leaves an engine that answers over verified TLS on 2376 only, with the address pool for previews", async () => {
    const { engine, address, tlsDir, pool } = it$();
    expect(JSON.parse(it$().daemonJson)).toMatchObject({
      tlsverify: true,
      "default-address-pools": [{ base: pool, size: 24 }],
    });
    expect((await engine.version()).ApiVersion).toMatch(/^\d+\.\d+$/);
    // Without a client certificate signed by its CA the engine refuses the handshake; 2375 is closed.
    const bare = await execa("curl", ["-sS", "--max-time", "5", "--cacert", `${tlsDir}/ca.pem`, `https://${address}:2376/version`], { reject: false });
    expect(bare.exitCode).not.toBe(0);
    const plain = await execa("curl", ["-sS", "--max-time", "5", `http://${address}:2375/version`], { reject: false });
    expect(plain.exitCode).toBe(7); // curl: could not connect
    const net = await engine.createNetwork({ Name: "berth-provision-check" });
    try {
      const subnet = String((await net.inspect()).IPAM?.Config?.[0]?.Subnet);
      expect(subnet).toMatch(new RegExp(`^${pool.split(".").slice(0, 2).join("\\.")}\\.\\d+\\.0/24$`));
    } finally {
      await net.remove();
    }
  });
});
