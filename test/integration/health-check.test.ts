import net from "node:net";
import { afterEach, expect, it } from "vitest";
import { httpStatus } from "../../releaser/health-check.js";

/** A loopback server that answers every connection with `answer`; its sockets, to see them closed. */
async function server(answer: (socket: net.Socket) => void): Promise<{ port: number; sockets: net.Socket[]; close(): void }> {
  const sockets: net.Socket[] = [];
  const s = net.createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => undefined);
    answer(socket);
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  return { port, sockets, close: () => (sockets.forEach((c) => c.destroy()), s.close()) };
}

const timers: NodeJS.Timeout[] = [];
const open: { close(): void }[] = [];
afterEach(() => {
  timers.splice(0).forEach(clearInterval);
  open.splice(0).forEach((s) => s.close());
});

it("gives up on a server that trickles its headers, at the deadline of the whole request", async () => {
  const s = await server((socket) => {
    socket.write("HTTP/1.1 200 OK\r\n");
    // A byte every 50 ms: never idle for the socket's 300 ms timeout.
    timers.push(setInterval(() => socket.write("X"), 50));
  });
  open.push(s);
  const started = Date.now();
  expect(await httpStatus("127.0.0.1", s.port, "/", 300)).toBeUndefined();
  expect(Date.now() - started).toBeLessThan(1500);
});

it("takes the status and hangs up on a body that never ends", async () => {
  const s = await server((socket) => {
    socket.write("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
    socket.end();
  });
  const endless = await server((socket) => {
    socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    timers.push(setInterval(() => socket.write("1\r\nx\r\n"), 20));
  });
  open.push(s, endless);
  expect(await httpStatus("127.0.0.1", s.port, "/", 1000)).toBe(204);
  expect(await httpStatus("127.0.0.1", endless.port, "/", 1000)).toBe(200);
  await new Promise((r) => setTimeout(r, 100));
  expect(endless.sockets[0]?.destroyed || endless.sockets[0]?.readableEnded).toBe(true);
});
