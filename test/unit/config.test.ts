import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../src/config/load.ts";

function problems(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(yaml, "test.yaml", env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("config", () => {
  test("defaults fill everything not written", () => {
    const snapshot = parseConfig("backends:\n  - name: a\n    url: http://127.0.0.1:8000/v1/\n", "t", {});
    expect(snapshot.server).toEqual({ host: "127.0.0.1", port: 4080, stream_default: false, max_body_bytes: 4_000_000, body_timeout_ms: 60_000, max_upload_bytes: 26_214_400, metrics_auth: false, workers: 1 });
    const a = snapshot.backends.get("a")!;
    expect(a.baseUrl).toBe("http://127.0.0.1:8000/v1");
    expect(a.chatUrl).toBe("http://127.0.0.1:8000/v1/chat/completions");
    expect(a.healthUrl).toBe("http://127.0.0.1:8000/health");
    expect(a.upstreamModel).toBe("a");
    expect(a.templateRenderMode).toBe("native");
    expect(a.displayName).toBe("a");
    expect(a.ownedBy).toBe("sluice");
  });

  test("public backends are served as public:<name>; api keys become a bearer header", () => {
    const snapshot = parseConfig("backends:\n  - name: ds\n    public: true\n    url: https://api.example.test/v1\n    api_key: ${KEY}\n", "t", { KEY: "sk-secret" });
    const ds = snapshot.backends.get("public:ds")!;
    expect(ds.headers.authorization).toBe("Bearer sk-secret");
    expect(snapshot.backends.has("ds")).toBe(false);
  });

  test("${VAR} and ${VAR:-default} expand; an exact ${VAR} converts to the schema's type", () => {
    const yaml = "server:\n  port: ${PORT}\n  host: ${HOST:-0.0.0.0}\n  stream_default: ${STREAM}\nbackends:\n  - name: a\n    url: http://${ENGINE:-127.0.0.1}:8000/v1\n";
    const snapshot = parseConfig(yaml, "t", { PORT: "9123", STREAM: "true" });
    expect(snapshot.server.port).toBe(9123);
    expect(snapshot.server.host).toBe("0.0.0.0");
    expect(snapshot.server.stream_default).toBe(true);
    expect(snapshot.backends.get("a")!.baseUrl).toBe("http://127.0.0.1:8000/v1");
  });

  test("an unset variable without default names the key path", () => {
    expect(problems("backends:\n  - name: a\n    url: http://x/v1\n    api_key: ${MISSING_KEY}\n")).toEqual([
      "backends[0].api_key: environment variable MISSING_KEY is not set (use ${MISSING_KEY:-default} for a default)",
    ]);
  });

  test("every problem is reported with its YAML path", () => {
    const found = problems(
      [
        "server:",
        "  port: lots",
        "  colour: blue",
        "backends:",
        "  - name: a",
        "    url: http://127.0.0.1:8000/v1",
        "  - name: b",
        "    url: ftp://nope",
        "  - name: c",
        "    url: http://127.0.0.1:8000/v1",
        "    template_render_mode: fancy",
        "  - name: a",
        "    url: http://127.0.0.1:8000/v1",
      ].join("\n"),
    );
    expect(found).toContain("server.port: expected integer");
    expect(found.some((p) => p.startsWith("server.colour: unknown key"))).toBe(true);
    expect(found.some((p) => p.startsWith("backends[2].template_render_mode: expected one of \"native\""))).toBe(true);
  });

  test("cross-checks run after the schema: URLs, duplicate and reserved names", () => {
    const found = problems("backends:\n  - name: a\n    url: ftp://nope\n  - name: b\n    url: http://x/v1\n  - name: b\n    url: http://x/v1\n  - name: auto\n    url: http://x/v1\n");
    expect(found).toContain("backends[0].url: expected an http(s) URL like http://127.0.0.1:8000/v1, got 'ftp://nope'");
    expect(found).toContain("backends[2].name: 'b' is already used by another backend");
    expect(found).toContain("backends[3].name: 'auto' is reserved for smart routing");
  });

  test("YAML syntax errors and non-mapping documents are reported", () => {
    expect(problems("backends: [\n")[0]).toStartWith("YAML syntax");
    expect(problems("- a\n- b\n")[0]).toStartWith("(root)");
  });

  test("the shipped default config is valid", async () => {
    const { loadConfigFile } = await import("../../src/config/load.ts");
    const snapshot = await loadConfigFile(`${import.meta.dir}/../../config/sluice.yaml`, {});
    expect(snapshot.server.port).toBe(4080);
    expect(snapshot.server.host).toBe("127.0.0.1");
  });
});
