import { expect, it } from "vitest";
import { isStaleTask, startContainer } from "../../releaser/container-start.js";

const staleTask = (): Error =>
  Object.assign(new Error("(HTTP code 500) server error - task eaaf4bdf0c1e: already exists "), { statusCode: 500 });

/** A container whose first start gets `answer` and leaves it running or not; later starts succeed. */
function container(answer: () => Error, runsAfter: boolean) {
  const c = {
    starts: 0,
    running: false,
    async start() {
      c.starts++;
      if (c.starts === 1) {
        c.running = runsAfter;
        throw answer();
      }
      c.running = true;
    },
    async inspect() {
      return { State: { Running: c.running } };
    },
  };
  return c as typeof c & Parameters<typeof startContainer>[0];
}

it("takes containerd's stale-task answer as started when the engine started the container itself", async () => {
  await expect(startContainer(container(staleTask, true))).resolves.toBeUndefined();
});

it("throws the stale-task answer when the container does not run, for its owner to make it anew", async () => {
  const c = container(staleTask, false);
  const error = await startContainer(c).catch((e: unknown) => e);
  expect(isStaleTask(error)).toBe(true);
  expect(c.starts).toBe(1);
});

it("takes 304 as started and throws any other answer", async () => {
  await expect(startContainer(container(() => Object.assign(new Error("container already started"), { statusCode: 304 }), true))).resolves.toBeUndefined();
  const gone = container(() => Object.assign(new Error("(HTTP code 404) no such container"), { statusCode: 404 }), false);
  await expect(startContainer(gone)).rejects.toThrow("no such container");
  expect(isStaleTask(new Error("container eaaf: already exists"))).toBe(false);
});
