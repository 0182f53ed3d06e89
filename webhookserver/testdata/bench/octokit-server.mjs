// The @octokit/webhooks Node middleware as `make bench` compares the receiver
// against: a node HTTP server on loopback that verifies each delivery's
// X-Hub-Signature-256 with the same secret and parses its JSON, the way
// Octokit's documentation sets it up. Run from the npm cache (bare imports
// resolve from its node_modules); prints "listening <addr>" once it serves and
// "pushes <n>" when it gets SIGTERM.
import { createServer } from "node:http";
import { Webhooks, createNodeMiddleware } from "@octokit/webhooks";

const secret = process.env.HOOKWARDEN_BENCH_SECRET;
const path = process.env.HOOKWARDEN_BENCH_PATH;
if (!secret || !path) {
  console.error("HOOKWARDEN_BENCH_SECRET and HOOKWARDEN_BENCH_PATH are required");
  process.exit(2);
}

const webhooks = new Webhooks({ secret });
let pushes = 0;
webhooks.on("push", () => {
  pushes++;
});
const middleware = createNodeMiddleware(webhooks, { path });
const server = createServer((req, res) => middleware(req, res));
// Keep connections open between the benchmark's rounds, as the Go servers do.
server.keepAliveTimeout = 120_000;
server.listen(0, "127.0.0.1", () => {
  const { address, port } = server.address();
  console.log(`listening ${address}:${port}`);
});
process.on("SIGTERM", () => {
  console.log(`pushes ${pushes}`);
  process.exit(0);
});
