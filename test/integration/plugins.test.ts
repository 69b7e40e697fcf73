// The plugin host through the real gateway: processors loaded from files, their order and short-circuits,
// failures that never become a 500, hot reload while requests run, broken files, and GET /v1/plugins.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";

const ROOT = resolve(import.meta.dir, "../..");
let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let client: OpenAI;
let pluginsDir: string;

/** A processor that marks the prompt in pre and the answer in post, so order is visible in the echo. */
function marker(name: string, extra = ""): string {
  return `import { definePlugin, mapText } from "sluice/plugin";
export default definePlugin({
  name: "${name}",
  kind: "processor",
  ${extra}
  pre(ctx) {
    const last = ctx.messages.at(-1);
    if (last) ctx.messages[ctx.messages.length - 1] = { ...last, content: mapText(last.content, (text) => text + " ${name}-pre") };
    ctx.metadata.saw = ctx.messages.length;
    ctx.state.set("mark", "${name}-post");
  },
  post(ctx, text) {
    return text + " " + ctx.state.get("mark");
  },
});
`;
}

const PLUGINS: Record<string, string> = {
  "a.ts": marker("a"),
  "b.ts": marker("b"),
  "gate.ts": `import { definePlugin, textOf, t } from "sluice/plugin";
export default definePlugin({
  name: "gate",
  kind: "processor",
  config: t.Object({ level: t.Integer({ minimum: 1, default: 1 }) }, { additionalProperties: false }),
  pre(ctx) {
    const text = textOf(ctx.messages.at(-1)?.content);
    if (text.includes("forbidden")) return { reject: { message: "the prompt mentions a forbidden thing; remove it", code: "gate_closed" } };
    if (text.includes("answer yourself")) return { respond: { content: "answered by the gate at level " + ctx.config.level } };
  },
});
`,
  "boom.ts": `import { definePlugin } from "sluice/plugin";
export default definePlugin({ name: "boom", kind: "processor", pre() { throw new Error("kaboom"); } });
`,
  "boom_open.ts": `import { definePlugin } from "sluice/plugin";
export default definePlugin({ name: "boom_open", kind: "processor", failure: "open", pre() { throw new Error("kaboom"); } });
`,
  "hang.ts": `import { definePlugin } from "sluice/plugin";
export default definePlugin({ name: "hang", kind: "processor", pre: () => new Promise(() => {}) });
`,
  "hang_open.ts": `import { definePlugin } from "sluice/plugin";
export default definePlugin({ name: "hang_open", kind: "processor", failure: "open", post: () => new Promise(() => {}) });
`,
  "upper.ts": `import { definePlugin } from "sluice/plugin";
export default definePlugin({ name: "upper", kind: "processor", post: (_ctx, text) => text.toUpperCase() });
`,
  "whole.ts": `import { definePlugin } from "sluice/plugin";
export default definePlugin({ name: "whole", kind: "processor", wholeAnswer: true, post: (_ctx, text) => "[" + text + "]" });
`,
};

function writePlugin(name: string, source: string): void {
  writeFileSync(join(pluginsDir, "processors", name), source);
}

beforeAll(async () => {
  pluginsDir = mkdtempSync(join(tmpdir(), "sluice-plugins-"));
  mkdirSync(join(pluginsDir, "processors"));
  for (const [name, source] of Object.entries(PLUGINS)) writePlugin(name, source);
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(
    `server: {host: 127.0.0.1, port: 0}
auth: {mode: none}
backends:
  - {name: echo, url: ${upstream.url}/v1}
  - {name: slow, url: ${upstream.url}/v1}
processors: {timeout_ms: 300}
`,
    { args: ["--plugins", pluginsDir] },
  );
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
  rmSync(pluginsDir, { recursive: true, force: true });
});
beforeEach(() => upstream.reset());

async function chat(content: string, inferada: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return (await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content }], inferada, ...extra } as never)) as unknown as Record<string, any>;
}

async function status(content: string, inferada: Record<string, unknown>) {
  return client.chat.completions.create({ model: "echo", messages: [{ role: "user", content }], inferada } as never).catch((error) => error);
}

describe("processors", () => {
  test("pre hooks run in request order, post hooks in reverse; each reports its metadata and time", async () => {
    const completion = await chat("hi", { processors: ["a", "b"] });
    expect(completion.choices[0].message.content).toBe("echo: hi a-pre b-pre b-post a-post");
    expect((await upstream.requests())[0]!.body).toMatchObject({ messages: [{ role: "user", content: "hi a-pre b-pre" }] });
    expect(completion.inferada.processors.map((p: { name: string }) => p.name)).toEqual(["a", "b"]);
    expect(completion.inferada.processors[0].metadata).toEqual({ saw: 1 });
    expect(typeof completion.inferada.processors[0].pre_ms).toBe("number");
    expect(typeof completion.timings.processors_ms).toBe("number");
    expect((await upstream.requests())[0]!.body).not.toHaveProperty("inferada");
  });

  test("a pre hook may reject (422 with its code) or answer itself (no model called)", async () => {
    const rejected = await status("a forbidden thing", { processors: ["a", "gate", "b"] });
    expect(rejected.status).toBe(422);
    expect(rejected.code).toBe("gate_closed");
    expect(rejected.message).toContain("gate: the prompt mentions a forbidden thing");

    const answered = await chat("please answer yourself", { processors: ["gate"], gate: { level: 3 } });
    expect(answered.choices[0].message.content).toBe("answered by the gate at level 3");
    expect((await upstream.requests()).length).toBe(0);
  });

  test("a processor's config is checked against its schema: 400 naming the field", async () => {
    const error = await status("hi", { processors: ["gate"], gate: { level: 0 } });
    expect(error.status).toBe(400);
    expect(error.message).toContain("inferada.gate: level");
  });

  test("unknown processor → 400 listing the known ones", async () => {
    const error = await status("hi", { processors: ["nope"] });
    expect(error.status).toBe(400);
    expect(error.message).toContain("unknown processor 'nope'");
    expect(error.message).toContain("a, b, boom, boom_open, gate");
  });

  test("a throwing plugin never makes a 500: closed → 503 processor_failed, open → skipped and reported", async () => {
    const closed = await status("hi", { processors: ["boom"] });
    expect(closed.status).toBe(503);
    expect(closed.code).toBe("processor_failed");
    expect(closed.message).toContain("kaboom");
    const open = await chat("hi", { processors: ["boom_open", "a"] });
    expect(open.choices[0].message.content).toBe("echo: hi a-pre a-post");
    expect(open.inferada.processors[0]).toMatchObject({ name: "boom_open", error: "pre: kaboom" });
  });

  test("a hook that never answers is given up after processors.timeout_ms: closed → 503, open → skipped and reported", async () => {
    const closed = await status("hi", { processors: ["hang"] });
    expect(closed.status).toBe(503);
    expect(closed.code).toBe("processor_failed");
    expect(closed.message).toContain("took longer than 300 ms (processors.timeout_ms)");
    expect((await upstream.requests()).length).toBe(0);
    const open = await chat("hi", { processors: ["a", "hang_open"] });
    expect(open.choices[0].message.content).toBe("echo: hi a-pre a-post");
    expect(open.inferada.processors[1]).toMatchObject({ name: "hang_open", error: "post: took longer than 300 ms (processors.timeout_ms)" });
  });

  test("streams: post hooks rewrite each chunk; the final chunk carries the inferada report", async () => {
    const stream = await client.chat.completions.create({ model: "echo", stream: true, messages: [{ role: "user", content: "make it loud" }], inferada: { processors: ["upper"] } } as never);
    let text = "";
    let last: Record<string, any> = {};
    for await (const chunk of stream as unknown as AsyncIterable<Record<string, any>>) {
      text += chunk.choices[0]?.delta?.content ?? "";
      last = chunk;
    }
    expect(text).toBe("ECHO: MAKE IT LOUD");
    expect(last.inferada.processors[0].name).toBe("upper");
    expect(last.usage).toBeDefined();
  });

  test("a processor that needs the whole answer turns streaming off and says so", async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", stream: true, messages: [{ role: "user", content: "hi" }], inferada: { processors: ["whole"] } }),
    });
    expect(response.headers.get("content-type")).toContain("application/json");
    const body = (await response.json()) as Record<string, any>;
    expect(body.choices[0].message.content).toBe("[echo: hi]");
    expect(body.inferada.streaming).toEqual({ disabled: true, by: "whole", reason: "it needs the whole answer" });
  });
});

describe("hot reload", () => {
  test("an edit takes effect without a restart; a request in flight finishes with the version it started with", async () => {
    writePlugin("edit.ts", marker("edit"));
    await eventually(async () => ((await chat("x", { processors: ["edit"] }).catch(() => undefined))?.choices[0].message.content === "echo: x edit-pre edit-post" ? true : undefined));
    const inFlight = client.chat.completions.create({ model: "slow", messages: [{ role: "user", content: "slowly" }], inferada: { processors: ["edit"] } } as never);
    await Bun.sleep(200);
    writePlugin("edit.ts", marker("edit").replace('"edit-post"', '"edit-v2"'));
    await eventually(async () => ((await chat("x", { processors: ["edit"] })).choices[0].message.content.endsWith("edit-v2") ? true : undefined));
    expect(((await inFlight) as unknown as Record<string, any>).choices[0].message.content).toEndWith("edit-pre edit-post");
  }, 20_000);

  test("a broken file is reported and the previous version keeps serving; fixing it recovers; removing it unloads", async () => {
    writePlugin("fragile.ts", marker("fragile"));
    await eventually(async () => ((await chat("x", { processors: ["fragile"] }).catch(() => undefined)) ? true : undefined));
    writePlugin("fragile.ts", "export default definePlugin({ name: oops"); // a syntax error
    const failed = await eventually(async () => {
      const list = (await (await fetch(`${gateway.url}/v1/plugins`)).json()) as { data: { file: string; state: string; last_error: string | null; version: number }[] };
      return list.data.find((p) => p.file === "processors/fragile.ts" && p.state === "failed");
    });
    expect(failed.last_error).toBeTruthy();
    expect(failed.version).toBe(1);
    expect((await chat("x", { processors: ["fragile"] })).choices[0].message.content).toBe("echo: x fragile-pre fragile-post");
    expect(gateway.logs()).toContain("processors/fragile.ts failed to load");

    writePlugin("fragile.ts", `import { definePlugin } from "sluice/plugin";\nexport default definePlugin({ name: "fragile", kind: "processor", pre() { throw new Error("at import time it was fine"); } });\nthrow new Error("thrown at import");\n`);
    await eventually(async () => ((await (await fetch(`${gateway.url}/v1/plugins`)).json()) as { data: { last_error: string | null }[] }).data.some((p) => p.last_error?.includes("thrown at import")) || undefined);

    writePlugin("fragile.ts", marker("fragile").replace('"fragile-post"', '"fixed"'));
    await eventually(async () => ((await chat("x", { processors: ["fragile"] })).choices[0].message.content.endsWith("fixed") ? true : undefined));

    rmSync(join(pluginsDir, "processors", "fragile.ts"));
    await eventually(async () => ((await status("x", { processors: ["fragile"] })).status === 400 ? true : undefined));
  }, 20_000);

  test("a replaced version is disposed once the last request using it has finished", async () => {
    const marker = join(pluginsDir, "disposed.txt");
    const source = (tag: string) => `import { definePlugin } from "sluice/plugin";
import { appendFileSync } from "node:fs";
export default definePlugin({
  name: "disposable",
  kind: "processor",
  post: (_ctx, text) => text + " ${tag}",
  dispose() { appendFileSync(${JSON.stringify(marker)}, "${tag}\\n"); },
});
`;
    writePlugin("disposable.ts", source("v1"));
    await eventually(async () => ((await chat("x", { processors: ["disposable"] }).catch(() => undefined))?.choices[0].message.content === "echo: x v1" ? true : undefined));
    const inFlight = client.chat.completions.create({ model: "slow", messages: [{ role: "user", content: "hold" }], inferada: { processors: ["disposable"] } } as never);
    await Bun.sleep(200);
    writePlugin("disposable.ts", source("v2"));
    await eventually(async () => ((await chat("x", { processors: ["disposable"] })).choices[0].message.content === "echo: x v2" ? true : undefined));
    expect(await Bun.file(marker).exists()).toBe(false); // v1 is still in use by the slow request
    expect(((await inFlight) as unknown as Record<string, any>).choices[0].message.content).toBe("echo: hold v1");
    expect(await eventually(async () => ((await Bun.file(marker).exists()) ? await Bun.file(marker).text() : undefined))).toBe("v1\n");
  }, 20_000);

  test("a plugin of the wrong shape is refused with a message that says what to fix", async () => {
    writePlugin("shapeless.ts", `export default { name: "Shapeless!", kind: "processor" };\n`);
    const entry = await eventually(async () => ((await (await fetch(`${gateway.url}/v1/plugins`)).json()) as { data: { file: string; state: string; last_error: string }[] }).data.find((p) => p.file === "processors/shapeless.ts"));
    expect(entry.state).toBe("failed");
    expect(entry.last_error).toContain("name: expected lower-case letters");
    rmSync(join(pluginsDir, "processors", "shapeless.ts"));
  });
});

describe("documentation and tooling", () => {
  test("the README's example plugin works as written", async () => {
    const readme = await Bun.file(join(ROOT, "README.md")).text();
    const source = readme.match(/```ts\n(\/\/ plugins\/processors\/signature\.ts\n[\s\S]*?)```/)?.[1];
    expect(source).toBeDefined();
    writePlugin("signature.ts", source!);
    const completion = await eventually(async () => (await chat("hi", { processors: ["signature"] }).catch(() => undefined)) ?? undefined);
    expect(completion.choices[0].message.content).toBe("echo: hi\n\nSign as sluice.");
    expect(completion.inferada.processors[0]).toMatchObject({ name: "signature", metadata: { signed: true } });
    const refused = await status("hi", { processors: ["signature"], signature: { name: "nobody" } });
    expect(refused.status).toBe(422);
  });

  test("sluice check reports a broken plugin and exits 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-check-plugins-"));
    mkdirSync(join(dir, "processors"));
    writeFileSync(join(dir, "processors", "broken.ts"), "export default 42;\n");
    writeFileSync(join(dir, "sluice.yaml"), "auth: {mode: none}\nbackends: []\n");
    const result = Bun.spawnSync([process.execPath, join(ROOT, "src/cli.ts"), "check", "--config", join(dir, "sluice.yaml"), "--plugins", dir]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.toString()).toContain("processors/broken.ts");
    expect(result.stderr.toString()).toContain("export default definePlugin");
    const shipped = Bun.spawnSync([process.execPath, join(ROOT, "src/cli.ts"), "check", "--config", join(dir, "sluice.yaml"), "--plugins", join(ROOT, "plugins")]);
    expect(shipped.stdout.toString()).toContain("ok");
    expect(shipped.exitCode).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);
});

describe("keys limited to processors", () => {
  test("a key may use only its processors: others → 403", async () => {
    const ADMIN = "inf_" + "P".repeat(20) + "adminadminadminadmin";
    const keyed = await spawnGateway(`server: {host: 127.0.0.1, port: 0}\nauth: {mode: keys}\nbackends:\n  - {name: echo, url: ${upstream.url}/v1}\n`, { args: ["--plugins", pluginsDir], env: { SLUICE_ADMIN_KEY: ADMIN } });
    try {
      const created = (await (await fetch(`${keyed.url}/v1/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: "only-a", processors: ["a"] }) })).json()) as { key: string; processors: string[] };
      expect(created.processors).toEqual(["a"]);
      const limited = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: created.key, maxRetries: 0 });
      const ok = (await limited.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hi" }], inferada: { processors: ["a"] } } as never)) as unknown as Record<string, any>;
      expect(ok.choices[0].message.content).toBe("echo: hi a-pre a-post");
      const refused = await limited.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hi" }], inferada: { processors: ["b"] } } as never).catch((e) => e);
      expect(refused.status).toBe(403);
      expect(refused.message).toContain("may not use processor 'b'");
      const admin = await (await fetch(`${keyed.url}/v1/plugins`, { headers: { authorization: `Bearer ${created.key}` } })).json();
      expect((admin as { error: { code: string } }).error.code).toBe("forbidden");
    } finally {
      await keyed.stop();
    }
  }, 30_000);
});
