import { ADMIN_TOKEN, type Harness } from "./harness.js";
import { waitFor } from "./services.js";

/** A deployment as `GET /api/v1/apps/{app}/deployments` lists it. */
export interface DeploymentRow {
  id: number;
  sha: string;
  state: string;
}

/** The app's deployments, asked of berth's API as an operator would. */
export async function apiDeployments(h: Harness): Promise<DeploymentRow[]> {
  return (await (await fetch(`${h.berth.url}/api/v1/apps/${h.app}/deployments`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as DeploymentRow[];
}

/** Waits for the fake GitHub to hold a completed check run on the commit, and returns it. */
export function completedCheck(h: Harness, sha: string, timeoutMs = 120_000) {
  return waitFor(`check run on ${sha.slice(0, 7)} to complete`, () => h.github.checkRunsFor(sha).find((c) => c.status === "completed"), timeoutMs, 100);
}
