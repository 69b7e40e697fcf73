// Issue 15 items 20-23: the command line as a new operator meets it — every config problem at once, one clear
// line for a bad flag or a busy port, the binary alone with its plugins, and a start-up that names dead backends.
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { eventually, spawnGateway } from "../support/gateway.ts";
import { spawnScriptedUpstream } from "../support/scripted-upstream.ts";
import { BUILTIN_PLUGINS } from "../../src/plugins/builtin.ts";

const ROOT = resolve(import.meta.dir, "../..");
const CLI = join(ROOT, "src/cli.ts");
const dir = mkdtempSync(join(tmpdir(), "sluice-hostile-"));

function run(args: string[], cwd = ROOT) {
  const result = Bun.spawnSync([process.execPath, CLI, ...args], { cwd, env: { ...process.env, SLUICE_ADMIN_KEY: "" } });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("sluice check", () => {
  test("prints the problems of every stage and never a backend's credentials", () => {
    const config = file(
      "all-stages.yaml",
      [
        "server:",
        "  port: 4080.5",
        "  port: 4081",
        "backends:",
        "  - name: 123",
        "    url: 'htp://admin:hunter2@10.0.0.1:8000/v1?api_key=sk-live'",
        "    api_key: ${SLUICE_TEST_UNSET_VAR}",
        "balancers:",
        "  - name: router",
        "    routes:",
        "      - targets: [nosuch]",
      ].join("\n"),
    );
    const result = run(["check", "--config", config]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("YAML duplicate key at line 3, column 3");
    expect(result.stderr).toContain("environment variable SLUICE_TEST_UNSET_VAR is not set");
    expect(result.stderr).toContain("backends[0].name: expected string");
    expect(result.stderr).toContain("backends[0].url: expected an http(s) URL");
    expect(result.stderr).toContain("no backend named 'nosuch'");
    expect(result.stderr).not.toContain("hunter2");
    expect(result.stderr).not.toContain("sk-live");
  });
});

describe("command line errors are one line and exit 2", () => {
  test("an unknown flag", () => {
    const result = run(["serve", "--bogus-flag"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual(["sluice: Unknown option '--bogus-flag' (sluice --help lists the options)"]);
  });

  test("a port in use", async () => {
    const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("busy") });
    try {
      const config = file("busy.yaml", "auth: {mode: none}\nbackends: []\n");
      const result = run(["serve", "--config", config, "--port", String(holder.port), "--data-dir", join(dir, "data"), "--plugins", join(dir, "no-plugins")]);
      expect(result.code).toBe(2);
      const errors = result.stderr.split("\n").filter((line) => line.startsWith("sluice:"));
      expect(errors).toEqual([`sluice: cannot listen on 127.0.0.1:${holder.port}: the port is in use (stop the other process, or choose another with --port / server.port)`]);
      expect(result.stderr).not.toContain("    at ");
    } finally {
      holder.stop(true);
    }
  });
});

describe("the shipped plugins are built in", () => {
  test("every file under plugins/ is in BUILTIN_PLUGINS (a new shipped plugin cannot be forgotten)", () => {
    const shipped = [...new Bun.Glob("{processors,tools,firewalls}/*.ts").scanSync(join(ROOT, "plugins"))].filter((f) => !f.endsWith(".d.ts")).sort();
    expect(BUILTIN_PLUGINS.map((p) => p.file).sort()).toEqual(shipped);
  });

  test("the binary copied alone into an empty folder serves redact and search; a plugins folder overrides by name", async () => {
    const build = Bun.spawnSync([process.execPath, "run", "build"], { cwd: ROOT });
    expect(build.exitCode).toBe(0);
    const alone = mkdtempSync(join(tmpdir(), "sluice-alone-"));
    const binary = join(alone, "sluice");
    copyFileSync(join(ROOT, "dist/sluice"), binary);
    Bun.spawnSync(["chmod", "+x", binary]);

    const upstream = await spawnScriptedUpstream();
    const yaml = `server: {host: 127.0.0.1, port: 0}\nauth: {mode: none}\nbackends:\n  - {name: tool-user, url: ${upstream.url}/v1}\n  - {name: echo, url: ${upstream.url}/v1}\ntools:\n  search: {provider: local}\n`;
    // spawnGateway runs in a fresh temp folder: no plugins/ next to the binary or in the working directory.
    const gateway = await spawnGateway(yaml, { command: [binary] });
    try {
      const redacted = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "mail ann@example.com" }], inferada: { processors: ["redact"] } }),
      });
      expect(redacted.status).toBe(200);
      expect(JSON.stringify((await upstream.requests()).at(-1)!.body)).toContain("[EMAIL_1]");

      const searched = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ model: "tool-user", messages: [{ role: "user", content: 'call: search({"query":"refund"})' }], tools: [{ type: "search" }] }),
      });
      expect(searched.status).toBe(200);
      const answer = (await searched.json()) as { tool_runs: { name: string }[] };
      expect(answer.tool_runs.map((run) => run.name)).toEqual(["search"]);

      const listed = (await (await fetch(`${gateway.url}/v1/plugins`)).json()) as { data: { name: string; file: string; state: string }[] };
      expect(listed.data.find((p) => p.name === "redact")).toMatchObject({ file: "(built in) processors/redact.ts", state: "active" });
      expect(gateway.logs()).toContain("plugins: built in");
    } finally {
      await gateway.stop();
    }

    // A folder plugin named redact replaces the built-in one; the other built-ins stay.
    const folder = mkdtempSync(join(tmpdir(), "sluice-override-"));
    Bun.spawnSync(["mkdir", "-p", join(folder, "processors")]);
    writeFileSync(join(folder, "processors", "my_redact.ts"), `import { definePlugin } from "sluice/plugin";\nexport default definePlugin({ name: "redact", kind: "processor", post: (_ctx, text) => text + " [overridden]" });\n`);
    const overridden = await spawnGateway(yaml, { command: [binary], args: ["--plugins", folder] });
    try {
      const answer = (await (
        await fetch(`${overridden.url}/v1/chat/completions`, {
          method: "POST",
          body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }], inferada: { processors: ["redact", "spellcheck"], language: "en" } }),
        })
      ).json()) as { choices: { message: { content: string } }[] };
      expect(answer.choices[0]!.message.content).toEndWith("[overridden]");
    } finally {
      await overridden.stop();
      await upstream.stop();
    }
  }, 60_000);
});

describe("start-up with no engine", () => {
  test("names the unreachable backends (credentials masked) and how to point at an engine", async () => {
    const gateway = await spawnGateway("auth: {mode: none}\nbackends:\n  - {name: local-model, url: 'http://admin:hunter2@127.0.0.1:9/v1'}\n", { args: ["--plugins", join(dir, "no-plugins")] });
    try {
      const line = await eventually(() => gateway.logs().split("\n").find((l) => l.includes("not reachable")));
      expect(line).toContain("local-model (http://***:***@127.0.0.1:9/v1)");
      expect(line).toContain("LOCAL_ENGINE_URL");
      expect(line).toContain("/readyz");
      expect(gateway.logs()).not.toContain("hunter2");
    } finally {
      await gateway.stop();
    }
  });
});
