import { render } from "../core/templates.js";

export const COMMENT_MARKER = "<!-- berth -->";

export type PreviewState = "queued" | "building" | "releasing" | "live" | "sleeping" | "failed" | "waiting" | "removed" | "expired";

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
  sleeping: { icon: "😴", label: "sleeping" },
  failed: { icon: "❌", label: "failed" },
  waiting: { icon: "✋", label: "waiting for approval" },
  removed: { icon: "🧹", label: "removed" },
  expired: { icon: "💤", label: "expired and removed" },
};

/** The sticky PR comment's Markdown, marked so berth finds it again. */
export function renderPreviewComment(view: PreviewView): string {
  return render("pr-comment", { ...view, ...LOOK[view.state], live: view.state === "live" || view.state === "sleeping" });
}
