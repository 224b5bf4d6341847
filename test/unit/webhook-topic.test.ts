import { describe, expect, it } from "vitest";
import { planPass } from "../../server/webhook-processor.js";
import { deliveryTopic, refusedField } from "../../server/webhook-topic.js";
import type { PendingDelivery } from "../../store/webhook-inbox.js";

describe("deliveryTopic", () => {
  const repository = { id: 42 };
  it("names a push by repository and ref, and a preview's pull request events by repository and number", () => {
    expect(deliveryTopic("push", { ref: "refs/heads/main", repository })).toBe("push:42:refs/heads/main");
    for (const action of ["opened", "reopened", "synchronize", "closed"]) expect(deliveryTopic("pull_request", { action, repository, pull_request: { number: 7 } })).toBe("pr:42:7");
    expect(deliveryTopic("pull_request", { action: "labeled", label: { name: "berth:preview" }, repository, pull_request: { number: 7 } })).toBe("pr:42:7");
  });

  it("gives none to what must never replace a delivery that matters, or to what is not shaped like GitHub's", () => {
    expect(deliveryTopic("pull_request", { action: "edited", repository, pull_request: { number: 7 } })).toBeNull();
    expect(deliveryTopic("pull_request", { action: "labeled", label: { name: "bug" }, repository, pull_request: { number: 7 } })).toBeNull();
    expect(deliveryTopic("issues", { action: "opened", repository })).toBeNull();
    expect(deliveryTopic("push", { ref: "refs/heads/main", repository: { id: "42" } })).toBeNull();
    expect(deliveryTopic("push", { ref: "x".repeat(2000), repository })).toBeNull();
    expect(deliveryTopic("pull_request", { action: "opened", repository, pull_request: { number: 1.5 } })).toBeNull();
    expect(deliveryTopic("push", null)).toBeNull();
  });
});

describe("planPass", () => {
  const d = (id: number, topic: string | null): PendingDelivery => ({ id: String(id), deliveryId: `g${id}`, event: "push", topic, attempts: 0 });

  it("runs each topic's newest delivery in arrival order and supersedes its older ones with it", () => {
    const { run, superseded } = planPass([d(1, "a"), d(2, "b"), d(3, null), d(4, "a"), d(5, null), d(6, "a")]);
    expect(run.map((x) => x.id)).toEqual(["2", "3", "5", "6"]);
    expect([...superseded]).toEqual([["g6", ["1", "4"]]]);
  });
});

describe("refusedField", () => {
  const sha = "0123456789abcdef0123456789abcdef01234567";
  it("names the first field of a push or pull request that GitHub would never send, before anything is recorded", () => {
    expect(refusedField("push", { after: sha, repository: { full_name: "o/r" } })).toBeUndefined();
    expect(refusedField("push", { after: "--upload-pack=touch /tmp/x", repository: { full_name: "o/r" } })).toBe("sha");
    expect(refusedField("push", { after: sha, repository: { full_name: "o/r/../x" } })).toBe("repository.full_name");
    expect(refusedField("pull_request", { repository: { full_name: "o/r" }, pull_request: { number: 3, head: { sha } } })).toBeUndefined();
    expect(refusedField("pull_request", { repository: { full_name: "o/r" }, pull_request: { number: -3, head: { sha } } })).toBe("number");
    expect(refusedField("push", null)).toBe("sha");
    expect(refusedField("check_run", { repository: { full_name: "o/r" }, check_run: { id: 4, head_sha: sha } })).toBeUndefined();
    expect(refusedField("check_run", { repository: { full_name: "o/r" }, check_run: { id: 4, head_sha: "HEAD" } })).toBe("sha");
    expect(refusedField("issues", { anything: true })).toBeUndefined();
  });
});
