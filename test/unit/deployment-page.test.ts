import { describe, expect, it } from "vitest";
import { render } from "../../core/templates.js";

const page = (running: boolean, log: string): string =>
  render("deployment.html", { app: { repo_full_name: "acme/shop" }, deployment: { id: 7, sha: "ab".repeat(20), state: running ? "building" : "live" }, appName: "shop", log, running, root: "", query: "?key=k" });

describe("deployment.html", () => {
  // `{{log}}` named Handlebars' built-in log helper, which prints nothing: the page showed no log.
  it("holds the log so far, escaped", () => {
    expect(page(false, "Step 1/2 : FROM <base>\n")).toContain('<pre id="log">Step 1/2 : FROM &lt;base&gt;\n</pre>');
  });

  it("follows the stream only while running", () => {
    expect(page(true, "")).toContain('new EventSource(location.pathname + "/events" + location.search)');
    expect(page(false, "")).not.toContain("EventSource");
  });
});
