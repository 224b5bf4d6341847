import { PassThrough, type Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type Docker from "dockerode";
import { DEFAULT_INSTANCE, LABEL } from "../core/names.js";

/** One line a container wrote, as the runtime logs API sends it (one JSON object per line). */
export interface LogLine {
  /** Docker's timestamp of the write (RFC 3339, nanoseconds). */
  time: string;
  container: string;
  /** web, a process type of berth.yaml, or a service's name. */
  process: string;
  stream: "stdout" | "stderr";
  line: string;
}

export interface AppContainer {
  id: string;
  name: string;
  process: string;
  running: boolean;
}

/** A line longer than this is cut: one runaway write must not become one huge message. */
const MAX_LINE = 16 * 1024;

/** The process name a container's labels give: its process type, its service, or web. */
export function processOf(labels: Record<string, string>): string {
  return labels["berth.process"] ?? labels["berth.service"] ?? labels[LABEL.role] ?? "web";
}

/**
 * The containers of an app environment on one engine, this installation's only, running first.
 * `app` is the app's Docker name (apps.name), as its containers are labelled.
 */
export async function appContainers(docker: Docker, instance: string, app: string, environment: string): Promise<AppContainer[]> {
  const filters = JSON.stringify({ label: [`${LABEL.managed}=true`, `${LABEL.app}=${app}`, `${LABEL.environment}=${environment}`] });
  const rows = await docker.listContainers({ all: true, filters });
  return rows
    .filter((c) => (c.Labels[LABEL.instance] ?? DEFAULT_INSTANCE) === instance)
    .map((c) => ({ id: c.Id, name: (c.Names[0] ?? "").replace(/^\//, ""), process: processOf(c.Labels), running: c.State === "running" }))
    .sort((a, b) => Number(b.running) - Number(a.running) || a.name.localeCompare(b.name));
}

/** Splits `2026-01-01T00:00:00.123456789Z text` (docker logs --timestamps) into time and text. */
export function splitTimestamp(raw: string): { time: string; line: string } {
  const sp = raw.indexOf(" ");
  const time = sp > 0 ? raw.slice(0, sp) : "";
  if (!/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(time)) return { time: "", line: raw.slice(0, MAX_LINE) };
  return { time, line: raw.slice(sp + 1, sp + 1 + MAX_LINE) };
}

/**
 * Reads the logs of containers (the last `tail` lines of each, then, when following, what they write
 * until signal aborts or they all stop) and hands each line to onLine as it comes. Without follow, the
 * lines of all containers are merged by time before they are handed over.
 */
export async function readLogs(docker: Docker, containers: AppContainer[], o: { tail: number; follow: boolean; signal: AbortSignal }, onLine: (l: LogLine) => void): Promise<void> {
  const collected: LogLine[] = [];
  const emit = o.follow ? onLine : (l: LogLine) => collected.push(l);
  await Promise.all(containers.map((c) => readOne(docker, c, o, emit)));
  if (!o.follow) for (const l of collected.sort((a, b) => a.time.localeCompare(b.time))) onLine(l);
}

async function readOne(docker: Docker, c: AppContainer, o: { tail: number; follow: boolean; signal: AbortSignal }, emit: (l: LogLine) => void): Promise<void> {
  if (o.signal.aborted) return;
  const container = docker.getContainer(c.id);
  const info = await container.inspect().catch(() => undefined);
  if (!info) return;
  const follow = o.follow && info.State.Running;
  // dockerode answers a Buffer without follow and a stream with it; both are framed unless the container has a TTY.
  const raw = (await container.logs({ stdout: true, stderr: true, timestamps: true, tail: o.tail, follow: follow as true, abortSignal: o.signal } as Docker.ContainerLogsOptions & { follow: true })) as unknown as Readable | Buffer;
  const source = Buffer.isBuffer(raw) ? PassThrough.from([raw]) : raw;
  const outputs: [PassThrough, "stdout" | "stderr"][] = [[new PassThrough(), "stdout"], [new PassThrough(), "stderr"]];
  if (info.Config.Tty) source.pipe(outputs[0]![0]);
  else {
    docker.modem.demuxStream(source, outputs[0]![0], outputs[1]![0]);
    source.on("end", () => outputs.forEach(([s]) => s.end()));
  }
  const stop = (): void => {
    (source as Readable).destroy?.();
    outputs.forEach(([s]) => s.end());
  };
  o.signal.addEventListener("abort", stop, { once: true });
  source.on("error", stop);
  try {
    await Promise.all(
      outputs.map(async ([stream, name]) => {
        for await (const raw of lines(stream)) {
          const { time, line } = splitTimestamp(raw);
          emit({ time, container: c.name, process: c.process, stream: name, line });
        }
      }),
    );
  } finally {
    o.signal.removeEventListener("abort", stop);
  }
}

/** The lines of a stream; a line longer than MAX_LINE comes in pieces, so nothing is buffered without bound. */
export async function* lines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  let buf = "";
  for await (const chunk of stream) {
    buf += typeof chunk === "string" ? chunk : decoder.write(chunk);
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
    }
    while (buf.length > MAX_LINE) {
      yield buf.slice(0, MAX_LINE);
      buf = buf.slice(MAX_LINE);
    }
  }
  buf += decoder.end();
  if (buf) yield buf;
}
