import { randomUUID } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import { Duplex, PassThrough } from "node:stream";
import type { Sensitive } from "../core/sensitive.js";
import { protoFields } from "./buildkit-trace.js";

const GET_SECRET = "/moby.buildkit.secrets.v1.Secrets/GetSecret";
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

// gRPC status codes (google.golang.org/grpc/codes).
const OK = 0;
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

/** Where to reach the engine and what the session offers to builds that name it. */
export interface BuildkitSessionOptions {
  socketPath?: string;
  /** Shown by the engine in debug logs; docker CLI uses the context directory's name. */
  name?: string;
  secrets?: Readonly<Record<string, Sensitive>>;
  /** Called when a step asks for a secret id the session does not have (BuildKit may then run it without). */
  onMissingSecret?: (id: string) => void;
}

class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Wraps a message in gRPC's length-prefixed framing (uncompressed). */
function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** A protobuf length-delimited field 1 holding `data`. */
function bytesField1(data: Buffer): Buffer {
  const len: number[] = [];
  for (let n = data.length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      len.push(n);
      break;
    }
    len.push((n % 128) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...len]), data]);
}

// grpc-message is percent-encoded (gRPC over HTTP/2 spec) so any text survives as a header value.
const grpcMessage = (s: string): string =>
  [...Buffer.from(s, "utf8")].map((b) => (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");

/**
 * A BuildKit client session attached to a Docker engine, the way `docker buildx` attaches one: the
 * engine dials back through it to fetch `RUN --mount=type=secret` values, which never touch a layer.
 */
export class BuildkitSession {
  readonly #server: http2.Http2Server;
  readonly #socket: Duplex;
  readonly #secrets: Readonly<Record<string, Sensitive>>;
  readonly #onMissingSecret: (id: string) => void;

  private constructor(
    /** The id to pass as `session` on `POST /build`. */
    readonly id: string,
    socket: Duplex,
    conn: Duplex,
    options: BuildkitSessionOptions,
  ) {
    this.#socket = socket;
    this.#secrets = options.secrets ?? {};
    this.#onMissingSecret = options.onMissingSecret ?? (() => undefined);
    this.#server = http2.createServer();
    this.#server.on("stream", (stream, headers) => this.#serve(stream, String(headers[":path"] ?? "")));
    // The engine going away mid-build is reported by the build request; nothing to do here.
    this.#server.on("sessionError", () => undefined);
    socket.on("error", () => undefined);
    // After the upgrade the engine is the HTTP/2 client and we are the server, on the same socket.
    this.#server.emit("connection", conn);
  }

  /** Opens a session on the engine and resolves once the engine has switched the connection to gRPC. */
  static open(options: BuildkitSessionOptions = {}): Promise<BuildkitSession> {
    const id = randomUUID();
    const req = http.request({
      socketPath: options.socketPath ?? "/var/run/docker.sock",
      method: "POST",
      path: "/session",
      agent: false,
      headers: {
        Connection: "Upgrade",
        Upgrade: "h2c",
        "X-Docker-Expose-Session-Uuid": id,
        "X-Docker-Expose-Session-Name": options.name ?? "berth",
        // Keys the engine's cache of files synced from this client; berth sends its context as a tar.
        "X-Docker-Expose-Session-Sharedkey": id,
        // The engine asks only for methods listed here (Caller.Supports); it skips the rest, such as registry auth.
        "X-Docker-Expose-Session-Grpc-Method": [GET_SECRET, HEALTH_CHECK],
      },
    });
    return new Promise((resolve, reject) => {
      req.on("upgrade", (_res, socket, head) => {
        let conn: Duplex = socket;
        if (head.length > 0) {
          // HTTP/2 reads a native socket's handle directly and would miss bytes the HTTP parser already took.
          const readable = new PassThrough();
          readable.write(head);
          socket.pipe(readable);
          conn = Duplex.from({ readable, writable: socket });
        }
        resolve(new BuildkitSession(id, socket, conn, options));
      });
      req.on("response", (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => reject(new Error(`docker engine refused a BuildKit session (HTTP ${res.statusCode}): ${body.trim()}`)));
      });
      req.on("error", reject);
      req.end();
    });
  }

  /** Ends the session; the engine forgets it and fails any build still using it. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#socket.destroy();
    });
  }

  #serve(stream: http2.ServerHttp2Stream, path: string): void {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", () => undefined);
    stream.on("end", () => {
      let reply: Buffer;
      try {
        reply = this.#call(path, unframe(Buffer.concat(chunks)));
      } catch (e) {
        const err = e instanceof GrpcError ? e : new GrpcError(INVALID_ARGUMENT, (e as Error).message);
        if (!stream.destroyed) {
          stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(err.code), "grpc-message": grpcMessage(err.message) }, { endStream: true });
        }
        return;
      }
      if (stream.destroyed) return;
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": String(OK), "grpc-message": "" }));
      stream.end(frame(reply));
    });
  }

  #call(path: string, request: Buffer): Buffer {
    if (path === HEALTH_CHECK) return Buffer.from([0x08, 0x01]); // HealthCheckResponse{status: SERVING}
    if (path !== GET_SECRET) throw new GrpcError(UNIMPLEMENTED, `berth does not serve ${path}`);
    let id = "";
    for (const f of protoFields(request)) if (f.field === 1 && Buffer.isBuffer(f.value)) id = f.value.toString("utf8");
    const secret = Object.hasOwn(this.#secrets, id) ? this.#secrets[id] : undefined;
    // BuildKit turns NOT_FOUND into "secret <id>: not found", which names the id the Dockerfile asked for.
    if (!secret) {
      this.#onMissingSecret(id);
      throw new GrpcError(NOT_FOUND, `secret ${id} is not defined for this build`);
    }
    return bytesField1(Buffer.from(secret.unwrap(), "utf8"));
  }
}

/** The message of a unary gRPC request body (one frame; compression is never negotiated here). */
function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new GrpcError(INVALID_ARGUMENT, "empty gRPC request");
  if (body[0] !== 0) throw new GrpcError(UNIMPLEMENTED, "compressed gRPC messages are not supported");
  return body.subarray(5, 5 + body.readUInt32BE(1));
}
