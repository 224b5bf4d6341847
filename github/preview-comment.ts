import type { App, Db } from "../store/db.js";
import { getEnvironment, setCommentId } from "../store/environment-store.js";
import type { GitHubReporter, RepoRef } from "./github-reporter.js";
import type { SerialQueue } from "./serial-queue.js";
import { render } from "../core/templates.js";

export const COMMENT_MARKER = "<!-- berth -->";

export type PreviewState = "queued" | "building" | "releasing" | "live" | "failed" | "waiting" | "removed" | "expired";

export interface PreviewView {
  state: PreviewState;
  sha: string;
  url: string;
  logUrl: string;
  note?: string;
}

const LOOK: Record<PreviewState, { icon: string; label: string }> = {
  queued: { icon: "⏳", label: "queued" },
  building: { icon: "🔨", label: "building" },
  releasing: { icon: "🚀", label: "releasing" },
  live: { icon: "✅", label: "live" },
  failed: { icon: "❌", label: "failed" },
  waiting: { icon: "✋", label: "waiting for approval" },
  removed: { icon: "🧹", label: "removed" },
  expired: { icon: "💤", label: "expired and removed" },
};

/** The sticky PR comment's Markdown, marked so berth finds it again. */
export function renderPreviewComment(view: PreviewView): string {
  return render("pr-comment", { ...view, ...LOOK[view.state], live: view.state === "live" });
}

/**
 * Keeps exactly one berth comment per pull request: created on the first report, edited in place
 * afterwards. Its id lives on the environment; if that was lost, the marker finds the comment again.
 */
export class PreviewComments {
  constructor(
    private readonly github: GitHubReporter,
    private readonly db: Db,
    private readonly queue: SerialQueue,
  ) {}

  update(app: App, repo: RepoRef, environment: string, prNumber: number, view: PreviewView): void {
    this.queue.run(`comment:${app.id}:${prNumber}`, "PR comment", async () => {
      const env = await getEnvironment(this.db, app.id, environment);
      const body = renderPreviewComment(view);
      let id = env?.comment_id ?? (await this.github.findComment(repo, prNumber, COMMENT_MARKER));
      if (id) {
        await this.github.updateComment(repo, id, body);
      } else {
        id = await this.github.createComment(repo, prNumber, body);
      }
      if (env && env.comment_id !== id) await setCommentId(this.db, env.id, id);
    });
  }
}
