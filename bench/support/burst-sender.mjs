// Sends prepared webhook deliveries on a fixed schedule (an open loop, as GitHub sends) and prints
// each answer's time. A process of its own: in the bench's process the fake GitHub's API and its
// `git http-backend` spawns made the sender read answers late (36 ms at p99), which counted as berth's.
// node:http with kept-alive connections: fetch() cost the sender ~0.4 of a core at 200/s.
// Usage: node burst-sender.mjs <deliveries.json>  ({ url, rate, deliveries: [{ id, body, headers }] })
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";

const { url, rate, deliveries } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
const answers = new Array(deliveries.length);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
// A kept-alive connection the server closed as idle just as it was reused fails at once with nothing
// answered; as Node's documentation advises, such a request is sent again on a new connection.
let retried = 0;
const post = (d, again = true) =>
  new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers: { ...d.headers, "content-length": Buffer.byteLength(d.body) } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", (e) => {
      if (again && req.reusedSocket && e.code === "ECONNRESET") {
        retried++;
        resolve(post(d, false));
      } else reject(e);
    });
    req.end(d.body);
  });
const failures = [];
const sent = [];
const t0 = performance.now();
for (let i = 0; i < deliveries.length; i++) {
  const wait = t0 + (i * 1000) / rate - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  const d = deliveries[i];
  const started = performance.now();
  sent.push(
    post(d).then(
      ({ status, body }) => {
        answers[i] = performance.now() - started;
        if (status !== 200) failures.push(`${status} ${body.slice(0, 100)}`);
      },
      (e) => void failures.push(String(e?.message ?? e)),
    ),
  );
}
await Promise.all(sent);
loop.disable();
agent.destroy();
const late = (ns) => Math.max(0, ns / 1e6 - 10);
process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, answers: answers.filter((a) => a !== undefined), failures, senderLateP99: late(loop.percentile(99)), senderLateMax: late(loop.max), senderCpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6, retried }));
