// When the client goes away, the engine's request is aborted at once (it must not generate for nobody).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor, SCRIPTED_BACKENDS } from "../support/config.ts";

let upstream: ScriptedUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(configFor(upstream.url, SCRIPTED_BACKENDS));
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

function chat(model: string, stream: boolean, signal: AbortSignal) {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    signal,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "go" }] }),
  });
}

async function inFlight(): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return Number(text.match(/^sluice_in_flight_requests (\d+)$/m)![1]);
}

test("a client that disconnects mid-stream aborts the engine's stream", async () => {
  await upstream.reset();
  const controller = new AbortController();
  const response = await chat("slow", true, controller.signal);
  const reader = response.body!.getReader();
  await reader.read(); // the stream is flowing
  controller.abort();
  const aborts = await eventually(async () => {
    const list = await upstream.aborts();
    return list.length ? list : undefined;
  });
  expect(aborts).toHaveLength(1);
  expect(aborts[0]!.model).toBe("slow");
  expect(aborts[0]!.completed_chunks).toBeLessThan(50); // far from the 200 it would have generated
  expect(await eventually(async () => ((await inFlight()) === 0 ? 0 : undefined))).toBe(0);
});

for (const stream of [false, true]) {
  test(`a client that disconnects before the engine answered aborts the engine's request (stream: ${stream})`, async () => {
    await upstream.reset();
    const controller = new AbortController();
    const pending = chat("stall", stream, controller.signal).catch(() => undefined);
    await eventually(async () => ((await upstream.requests()).length ? true : undefined));
    controller.abort();
    await pending;
    const aborts = await eventually(async () => {
      const list = await upstream.aborts();
      return list.length ? list : undefined;
    });
    expect(aborts).toHaveLength(1);
    expect(aborts[0]!.model).toBe("stall");
    expect(await eventually(async () => ((await inFlight()) === 0 ? 0 : undefined))).toBe(0);
  });
}
