// Issue 15 items 20-23: the command line as a new operator meets it — every config problem at once, one clear
// line for a bad flag or a busy port, the binary alone with its plugins, and a start-up that names dead backends.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnGateway } from "../support/gateway.ts";

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
