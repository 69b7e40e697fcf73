// Hot reload against in-place saves (`>`: truncate, then write): the half-written file a watcher sees for a moment
// must never be applied, so no request fails while an operator saves the config again and again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { openSync, writeSync, closeSync } from "node:fs";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";

let upstream: ScriptedUpstream;
let gateway: RunningGateway;
const config = (comment: number) => `# save ${comment}
server: {host: 127.0.0.1, port: 0}
auth: {mode: none}
backends:
  - {name: echo, url: ${upstream.url}/v1}
  - {name: other, url: ${upstream.url}/v1, model: echo}
`;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(config(0));
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

/** Truncates the file, then writes it in two parts with a pause between, as a slow `>` redirect does. */
async function saveInPlace(text: string): Promise<void> {
  const fd = openSync(gateway.configPath, "w"); // truncates
  await Bun.sleep(5);
  const half = Math.floor(text.length / 2);
  writeSync(fd, text.slice(0, half));
  await Bun.sleep(10);
  writeSync(fd, text.slice(half));
  closeSync(fd);
}

test("50 in-place saves while requests run: every request is served", async () => {
  let stop = false;
  const statuses: number[] = [];
  const traffic = (async () => {
    while (!stop) {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }] }) });
      statuses.push(response.status);
      await response.text();
    }
  })();
  for (let save = 1; save <= 50; save++) {
    await saveInPlace(config(save));
    await Bun.sleep(30);
  }
  await Bun.sleep(300);
  stop = true;
  await traffic;
  expect(statuses.length).toBeGreaterThan(50);
  expect(statuses.filter((status) => status !== 200)).toEqual([]);
  expect(gateway.logs()).not.toContain("server.host/server.port changed");
}, 30_000);

test("an empty file is refused and the running config keeps serving", async () => {
  await saveInPlace("");
  await eventually(() => (gateway.logs().includes("the file is empty") ? true : undefined));
  const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }] }) });
  expect(response.status).toBe(200);
});
