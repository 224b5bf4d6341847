import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { ExecError, lastLines } from "../core/errors.js";
import { BoundedText } from "./bounded-text.js";

/*
 * The Engine API calls that run a process and wait for it: an exec in a running container, a
 * one-off container, an image pull. Each has a deadline, and the output kept is bounded, since what
 * runs there (and how much it prints, and how long it takes) is the app's.
 */

/** Output kept of an exec (health commands, the proxy's reload): enough for an error message. */
export const EXEC_OUTPUT_CHARS = 64 * 1024;
/** Output kept of a one-off container (the release command), which also goes to the deployment's log. */
export const RUN_OUTPUT_CHARS = 1024 * 1024;
/** How long an exec may run when its caller sets no deadline. */
export const EXEC_TIMEOUT_MS = 5 * 60_000;
/** How long an image pull may take. */
export const PULL_TIMEOUT_MS = 10 * 60_000;

const seconds = (ms: number): string => (ms < 1000 ? `${ms}ms` : `${Math.round(ms / 1000)}s`);

const destroy = (stream: NodeJS.ReadableStream | undefined): void => (stream as { destroy?: () => void } | undefined)?.destroy?.();

/** An exec that did not exit in time: argv and output kept as in an ExecError, no exit code. */
export class ExecTimeoutError extends ExecError {
  constructor(argv: readonly string[], output: string, timeoutMs: number) {
    super(argv, undefined, output, "");
    this.message = `${argv.join(" ")} was still running after ${seconds(timeoutMs)}; berth stopped waiting for it: ${lastLines(output, 5)}`;
  }
}

/** Resolves what `work` resolves, or rejects with the error `onTimeout` cleans up and returns once `ms` have passed. */
function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Reads a multiplexed stdout/stderr stream to its end into a BoundedText (stderr also into its own, when given). */
function collect(docker: Docker, stream: NodeJS.ReadableStream, output: BoundedText, stderr?: BoundedText): Promise<void> {
  const [out, err] = [new PassThrough(), new PassThrough()];
  // Decoded as a stream, so a character split between two frames stays whole.
  out.setEncoding("utf8");
  err.setEncoding("utf8");
  out.on("data", (text: string) => output.push(text));
  err.on("data", (text: string) => {
    output.push(text);
    stderr?.push(text);
  });
  docker.modem.demuxStream(stream, out, err);
  return new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("error", reject);
  });
}

/**
 * Runs argv in a running container until its output ends (an ExecTimeoutError past timeoutMs), not
 * waiting for the exit code the daemon records a moment later: a health probe reads its answer
 * from the output alone, 20 ms or more sooner.
 */
export async function execOutput(docker: Docker, container: string, argv: string[], timeoutMs: number): Promise<{ exec: Docker.Exec; output: BoundedText; stderr: BoundedText }> {
  const exec = await docker.getContainer(container).exec({ Cmd: argv, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const output = new BoundedText(EXEC_OUTPUT_CHARS);
  const stderr = new BoundedText(EXEC_OUTPUT_CHARS);
  await withDeadline(collect(docker, stream, output, stderr), timeoutMs, () => {
    destroy(stream);
    return new ExecTimeoutError(argv, output.toString(), timeoutMs);
  });
  return { exec, output, stderr };
}

/**
 * Runs argv in a running container: its exit code and output (head and tail, EXEC_OUTPUT_CHARS).
 * A non-zero exit throws an ExecError; so does no exit within timeoutMs, when berth stops waiting
 * (the Engine API cannot kill an exec, so the process may go on until the container stops).
 */
export async function execIn(docker: Docker, container: string, argv: string[], timeoutMs = EXEC_TIMEOUT_MS): Promise<{ exitCode: number; output: string }> {
  const { exec, output, stderr } = await execOutput(docker, container, argv, timeoutMs);
  // The stream can end a moment before the daemon records the exit code: wait for it.
  let info = await exec.inspect();
  for (let i = 0; i < 50 && (info.Running || info.ExitCode === null); i++) {
    await new Promise((r) => setTimeout(r, 20));
    info = await exec.inspect();
  }
  const exitCode = info.ExitCode ?? -1;
  if (exitCode !== 0) throw new ExecError(argv, exitCode, output.toString(), stderr.toString());
  return { exitCode, output: output.toString() };
}

/**
 * Runs a container to completion (killed after timeoutMs): its exit code (-1 when killed) and its
 * output, head and tail up to RUN_OUTPUT_CHARS, read as it is printed (the engine re-reads a long
 * json-file log far more slowly). The container is removed after.
 */
export async function runToCompletion(docker: Docker, options: Docker.ContainerCreateOptions, timeoutMs: number): Promise<{ exitCode: number; output: string }> {
  const container = await docker.createContainer(options);
  try {
    // Attached before the start, so not a line is missed.
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const output = new BoundedText(RUN_OUTPUT_CHARS);
    const reading = collect(docker, stream, output);
    reading.catch(() => undefined);
    await container.start();
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs).unref());
    const done = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, timer]);
    if (done === "timeout") await container.kill().catch(() => undefined);
    await withDeadline(reading, 30_000, () => {
      destroy(stream);
      return new Error("the output stream did not end within 30s of the exit");
    }).catch((e: Error) => output.push(`\n(output incomplete: ${e.message})`));
    const text = output.toString();
    return done === "timeout" ? { exitCode: -1, output: `${text}\n(killed after ${seconds(timeoutMs)})` } : { exitCode: done.StatusCode, output: text };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Pulls an image, giving up after timeoutMs (a registry that trickles would otherwise hold the release forever). */
export async function pullImage(docker: Docker, ref: string, server: string, timeoutMs = PULL_TIMEOUT_MS): Promise<void> {
  await followWithin(docker, () => docker.pull(ref), "pulling", ref, server, timeoutMs);
}

/** Pushes a tagged image to its registry (which skips the layers it has), giving up after timeoutMs. */
export async function pushImage(docker: Docker, ref: string, server: string, timeoutMs = PULL_TIMEOUT_MS): Promise<void> {
  // An empty X-Registry-Auth: the engine refuses a push without the header, even to an open registry.
  await followWithin(docker, () => docker.getImage(ref).push({ authconfig: {} }) as Promise<NodeJS.ReadableStream>, "pushing", ref, server, timeoutMs);
}

/** Follows a pull's or push's progress stream to its end within timeoutMs; an error event rejects. */
async function followWithin(docker: Docker, open: () => Promise<NodeJS.ReadableStream>, doing: string, ref: string, server: string, timeoutMs: number): Promise<void> {
  let stream: NodeJS.ReadableStream | undefined;
  let gaveUp = false;
  const work = (async () => {
    const s = await open().catch((e: Error) => {
      throw new Error(`${doing} ${ref} on ${server} failed: ${e.message}`, { cause: e });
    });
    stream = s;
    if (gaveUp) return destroy(s);
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(s, (err: Error | null, events: { error?: string }[] = []) => {
        // A pull or push that fails halfway still ends the stream normally, with the error as an event.
        const failed = events.find((ev) => ev.error);
        if (err || failed) reject(err ?? new Error(`${doing} ${ref} failed: ${failed?.error}`));
        else resolve();
      }),
    );
  })();
  await withDeadline(work, timeoutMs, () => {
    gaveUp = true;
    destroy(stream);
    return new Error(`${doing} ${ref} on ${server} took over ${seconds(timeoutMs)}; berth gave up (is the registry reachable and answering from there?)`);
  });
}

/**
 * Loads a `docker save` archive, read from tar at the engine's pace (the request body is piped, so a
 * slow engine slows the source and nothing piles up in berth); aborted after timeoutMs. Rejects with
 * the engine's error, which it reports in the response body with status 200.
 */
export async function loadImage(docker: Docker, tar: NodeJS.ReadableStream, server: string, timeoutMs = PULL_TIMEOUT_MS): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = (await docker.loadImage(tar, { quiet: true, abortSignal: abort.signal })) as NodeJS.ReadableStream;
    const body = new BoundedText(EXEC_OUTPUT_CHARS);
    for await (const chunk of res) body.push(String(chunk));
    const failed = body
      .toString()
      .split("\n")
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as { error?: string }];
        } catch {
          return [];
        }
      })
      .find((ev) => ev.error);
    if (failed) throw new Error(`loading an image on ${server} failed: ${failed.error}`);
  } catch (e) {
    if (abort.signal.aborted) throw new Error(`loading an image on ${server} took over ${seconds(timeoutMs)}; berth gave up (is the link to it that slow?)`);
    throw e;
  } finally {
    clearTimeout(timer);
    destroy(tar);
  }
}
