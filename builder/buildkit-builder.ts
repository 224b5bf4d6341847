import http from "node:http";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import { UserError, lastLines } from "../core/errors.js";
import { Redactor } from "../core/redactor.js";
import type { Sensitive } from "../core/sensitive.js";
import type { DockerBuildPlan } from "./docker-build-plan.js";
import { BuildkitSession } from "./buildkit-session.js";
import { TraceFormatter } from "./buildkit-trace.js";
import { planFor, type BuildPlan, type BuildRun, type Builder, type LogSink } from "./builder.js";

// dockerode's own context packer, so both builders send the same files: BuildKit on engine 20.10 does
// not apply .dockerignore to an uploaded tar context, and the classic builder path already relies on it.
const { prepareBuildContext } = createRequire(import.meta.url)("dockerode/lib/util") as {
  prepareBuildContext(file: DockerBuildPlan["context"], next: (tar: Readable) => void): void;
};

// Resource limits BuildKit on engine 20.10 accepts on /build and then ignores (builder-next never
// reads them): they are not sent, and the log says so rather than pretending they apply.
const NOT_ENFORCED = new Set(["memory", "memswap", "cpushares", "cpusetcpus", "cpuperiod", "cpuquota", "shmsize", "ulimits"]);
// Classic-builder switches with no BuildKit meaning: it never leaves intermediate containers behind.
const CLASSIC_ONLY = new Set(["rm", "forcerm", "version"]);

/** Engine API `/build` query for a plan run by BuildKit with the given session, plus notes for the log. */
export function buildkitQuery(plan: DockerBuildPlan, sessionId: string): { query: string; notes: string[] } {
  const params = new URLSearchParams({ version: "2", session: sessionId });
  const notes: string[] = [];
  for (const [key, value] of Object.entries(plan.options as Record<string, unknown>)) {
    if (value === undefined || CLASSIC_ONLY.has(key)) continue;
    if (NOT_ENFORCED.has(key)) notes.push(`note: BuildKit does not enforce the build option ${key}; the build runs without that limit\n`);
    else params.set(key, typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  return { query: params.toString(), notes };
}

interface BuildEvent {
  id?: string;
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: string | { ID?: string };
}

/** Runs a DockerBuildPlan with the engine's BuildKit, serving `RUN --mount=type=secret` values from a session. */
export class BuildkitBuilder implements Builder {
  readonly #socketPath: string;

  constructor(options: { socketPath?: string } = {}) {
    this.#socketPath = options.socketPath ?? "/var/run/docker.sock";
  }

  async run(plan: BuildPlan, run: BuildRun): Promise<void> {
    await this.build(planFor(plan, "buildkit").docker, run.log, run.signal, run.secrets);
  }

  /** Builds and tags plan.image; resolves to the image id. A failing Dockerfile is a UserError with the log tail. */
  async build(plan: DockerBuildPlan, log: LogSink, signal?: AbortSignal, secrets: Readonly<Record<string, Sensitive>> = {}): Promise<string> {
    signal?.throwIfAborted();
    // Masked as a stream: a value BuildKit splits across two trace events is still caught.
    const redactor = new Redactor(Object.values(secrets));
    const redact = (text: string): string => redactor.redact(text);
    const masked = redactor.stream();
    let tail = "";
    const emit = (text: string): void => {
      if (!text) return;
      tail = (tail + text).slice(-8000);
      log(text);
    };
    const record = (text: string): void => emit(masked.push(text));
    const missing = new Set<string>();
    const onMissingSecret = (id: string): void => {
      // BuildKit mounts secrets as optional by default: the step still runs, just without the file.
      if (!missing.has(id)) record(`note: the Dockerfile mounts the build secret ${id}, which is not defined for this app\n`);
      missing.add(id);
    };
    const session = await BuildkitSession.open({ socketPath: this.#socketPath, name: plan.image, secrets, onMissingSecret });
    try {
      return await this.#run(plan, session.id, signal, record, () => tail, missing, redact);
    } finally {
      emit(masked.end());
      await session.close();
    }
  }

  async #run(
    plan: DockerBuildPlan,
    sessionId: string,
    signal: AbortSignal | undefined,
    record: (text: string) => void,
    tail: () => string,
    missing: ReadonlySet<string>,
    redact: (s: string) => string,
  ): Promise<string> {
    const { query, notes } = buildkitQuery(plan, sessionId);
    notes.forEach(record);
    const trace = new TraceFormatter();
    let imageId = "";
    let failure: string | undefined;

    const refused = await new Promise<{ status: number; message: string } | undefined>((resolve, reject) => {
      const req = http.request({ socketPath: this.#socketPath, method: "POST", path: `/build?${query}`, agent: false, headers: { "Content-Type": "application/x-tar" }, signal });
      // Aborting destroys the request; the engine sees the connection drop and cancels the solve.
      const fail = (e: Error): void => reject(signal?.aborted ? (signal.reason ?? e) : e);
      prepareBuildContext(plan.context, (tar) => {
        tar.on("error", (e) => req.destroy(e));
        tar.pipe(req);
      });
      req.on("error", fail);
      req.on("response", (res) => {
        res.setEncoding("utf8");
        res.on("error", fail);
        res.on("close", () => res.complete || fail(new Error("docker engine closed the build stream early")));
        if (res.statusCode !== 200) {
          let body = "";
          res.on("data", (d: string) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, message: errorMessage(body) }));
          return;
        }
        let pending = "";
        const onEvent = (ev: BuildEvent): void => {
          if (ev.id === "moby.buildkit.trace" && typeof ev.aux === "string") record(trace.push(ev.aux));
          else if (typeof ev.aux === "object" && ev.aux.ID) imageId = ev.aux.ID;
          else if (ev.stream) record(ev.stream);
          if (ev.error) failure ??= ev.errorDetail?.message ?? ev.error;
        };
        res.on("data", (chunk: string) => {
          pending += chunk;
          const lines = pending.split("\n");
          pending = lines.pop() ?? "";
          for (const line of lines) if (line.trim()) onEvent(parse(line));
        });
        res.on("end", () => {
          if (pending.trim()) onEvent(parse(pending));
          resolve(undefined);
        });
      });
    });
    record(trace.flush());

    if (refused) {
      const message = redact(refused.message);
      // A 4xx comes before any build step, for parameters the engine rejects (such as a Dockerfile it cannot find).
      if (refused.status < 500) throw new UserError(`docker build failed: ${message}`);
      throw new Error(`docker engine failed the build request (HTTP ${refused.status}): ${message}`);
    }
    if (failure !== undefined) throw buildFailure(redact(failure), lastLines(tail(), 40), missing);
    if (!imageId) imageId = await this.#inspectId(plan.image);
    return imageId;
  }

  async #inspectId(image: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.get({ socketPath: this.#socketPath, path: `/images/${encodeURIComponent(image)}/json`, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => (res.statusCode === 200 ? resolve((JSON.parse(body) as { Id: string }).Id) : reject(new Error(`build reported no image id and ${image} is missing: ${body.trim()}`))));
      });
      req.on("error", reject);
    });
  }
}

function parse(line: string): BuildEvent {
  try {
    return JSON.parse(line) as BuildEvent;
  } catch {
    // The engine sends one JSON object a line; anything else is shown as is rather than lost.
    return { stream: `${line}\n` };
  }
}

function errorMessage(body: string): string {
  try {
    return ((JSON.parse(body) as { message?: string }).message ?? body).trim();
  } catch {
    return body.trim();
  }
}

function buildFailure(message: string, tail: string, missing: ReadonlySet<string>): UserError {
  const failed = `docker build failed: ${message.trim()}`;
  if (missing.size === 0) return new UserError(failed, tail);
  // A step missing its secret usually fails on the absent file, with an exit code that says nothing about
  // secrets; name what the user has to fix, without claiming it was the cause.
  const ids = [...missing];
  const quoted = ids.map((id) => `"${id}"`).join(", ");
  const mounts = ids.map((id) => `--mount=type=secret,id=${id}`).join(", ");
  const what = ids.length === 1 ? `the build secret ${quoted}, which is` : `the build secrets ${quoted}, which are`;
  return new UserError(`${failed}; the Dockerfile mounts ${what} not defined for this app: add ${ids.length === 1 ? "it" : "them"} to the app's build secrets or remove ${mounts}`, tail);
}
