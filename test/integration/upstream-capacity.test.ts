// No hidden cap on upstream concurrency: Bun's fetch allows 256 requests in flight per process unless
// BUN_CONFIG_MAX_HTTP_REQUESTS is set at start-up, which `sluice serve` does for itself. 400 streams held open at
// once must all reach the engine together. The client side uses raw sockets, so the test process's own fetch
// limit plays no part.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";

const STREAMS = 400;
let upstream: ScriptedUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(`server: {host: 127.0.0.1, port: 0}
auth: {mode: none}
backends:
  - {name: slow, url: ${upstream.url}/v1}
`);
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

test(`${STREAMS} streams in flight to the engine at once`, async () => {
  const body = JSON.stringify({ model: "slow", stream: true, messages: [{ role: "user", content: "go on" }] });
  const sockets: Socket[] = [];
  for (let i = 0; i < STREAMS; i++) {
    const socket = connect(gateway.port, "127.0.0.1", () => socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    socket.on("error", () => {});
    sockets.push(socket);
  }
  try {
    // The slow model streams for 20 s: every request the engine has seen by now is still open.
    const seen = await eventually(async () => {
      const count = (await upstream.requests()).length;
      return count >= STREAMS ? count : undefined;
    }, 15_000);
    expect(seen).toBe(STREAMS);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}, 30_000);
