import { hostname } from "node:os";

/** What the server answers when a device login starts (POST /api/v1/login/device). */
interface DeviceStart {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  interval: number;
  expiresIn: number;
}

const errorOf = async (res: Response): Promise<string> => {
  const text = await res.text();
  try {
    return (JSON.parse(text) as { error?: string }).error ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
};

/**
 * GitHub's device flow, brokered by the berth server (which holds the App's client id and talks to
 * github.com or GHE_HOST): the user enters a code on GitHub, berth trades their GitHub token for a
 * berth API token with their permissions, and that token comes back here. Returns the token and login.
 */
export async function deviceLogin(url: string, onCode: (code: { verificationUri: string; userCode: string }) => void, o: { sleep?: (ms: number) => Promise<void>; name?: string } = {}): Promise<{ token: string; login: string }> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = await fetch(`${url}/api/v1/login/device`, { method: "POST" });
  if (!started.ok) throw new Error(`${url} cannot start a GitHub login: ${await errorOf(started)}`);
  const d = (await started.json()) as DeviceStart;
  onCode({ verificationUri: d.verificationUri, userCode: d.userCode });
  const deadline = Date.now() + d.expiresIn * 1000;
  let interval = Math.max(1, d.interval) * 1000;
  const name = o.name ?? `berth CLI on ${hostname().slice(0, 40)}`;
  while (Date.now() < deadline) {
    await sleep(interval);
    const res = await fetch(`${url}/api/v1/login/device/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ deviceCode: d.deviceCode, name: name.replace(/[^\x20-\x7e]/g, "?") }),
    });
    if (res.status === 202) {
      if (((await res.json()) as { slowDown?: boolean }).slowDown) interval += 5000; // as GitHub asks
      continue;
    }
    if (res.status === 201) return (await res.json()) as { token: string; login: string };
    throw new Error(await errorOf(res));
  }
  throw new Error("the code expired before it was entered; run berth login --github again");
}
