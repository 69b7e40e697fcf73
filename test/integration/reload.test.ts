// Editing the config while the gateway runs: valid edits apply atomically, invalid ones are logged and ignored,
// and a request in flight finishes on the snapshot it started with.
import { afterAll, beforeAll, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(configFor(upstream.url, [{ name: "first", model: "echo" }, { name: "slow" }]));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

const modelIds = async () => (await client.models.list()).data.map((m) => m.id);

test("a valid edit is applied without a restart; in-flight requests finish on the old snapshot", async () => {
  // A buffered `slow` request takes 1.5 s upstream; it started on the old config and must still succeed.
  const inFlight = client.chat.completions.create({ model: "slow", messages: [{ role: "user", content: "long" }] });
  await eventually(async () => ((await upstream.requests()).some((r) => (r.body as { model?: string }).model === "slow") ? true : undefined));

  gateway.writeConfig(configFor(upstream.url, [{ name: "second", model: "echo" }]));
  await eventually(async () => ((await modelIds()).includes("second") ? true : undefined));
  expect(await modelIds()).toEqual(["second"]);
  const result = await client.chat.completions.create({ model: "second", messages: [{ role: "user", content: "new" }] });
  expect(result.choices[0]!.message.content).toBe("echo: new");

  expect((await inFlight).choices[0]!.message.content).toBe("echo: long");
});

test("an invalid edit is logged with its YAML path and the running config keeps serving", async () => {
  gateway.writeConfig(configFor(upstream.url, [{ name: "second", model: "echo" }]).replace("    url:", "    colour: blue\n    url:"));
  await eventually(() => (gateway.logs().includes("backends[0].colour") ? true : undefined));
  gateway.writeConfig("backends:\n  - name: broken\n    url: not a url\n");
  await eventually(() => (gateway.logs().includes("backends[0].url: expected an http(s) URL") ? true : undefined));
  expect(await modelIds()).toEqual(["second"]);
  expect((await client.chat.completions.create({ model: "second", messages: [{ role: "user", content: "still" }] })).choices[0]!.message.content).toBe("echo: still");
});

test("a change of server.port is reported as needing a restart", async () => {
  gateway.writeConfig(configFor(upstream.url, [{ name: "second", model: "echo" }]).replace("port: 0", "port: 4999"));
  await eventually(() => (gateway.logs().includes("restart sluice") ? true : undefined));
  expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
});
