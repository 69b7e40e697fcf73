// Issue 15 item 20: `sluice check` reports every problem of every stage at once, and what YAML accepts
// silently (fractions for integers, numbers for strings, duplicate keys, a mapping for the backends list) is an error.
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

describe("every stage reports in one run", () => {
  test("env, schema, URL and cross-reference problems together", () => {
    const found = problems(`
server:
  port: 4080.5
backends:
  - name: a
    url: not-a-url
    api_key: \${MISSING_KEY}
  - name: b
    url: http://127.0.0.1:8000/v1
    timeout_ms: fast
balancers:
  - name: router
    routes:
      - targets: [nosuch]
`);
    expect(found).toContain("backends[0].api_key: environment variable MISSING_KEY is not set (use ${MISSING_KEY:-default} for a default)");
    expect(found).toContain("server.port: expected integer");
    expect(found).toContain("backends[1].timeout_ms: expected integer");
    expect(found.some((p) => p.startsWith("backends[0].url: expected an http(s) URL"))).toBe(true);
    expect(found.some((p) => p.startsWith("balancers[0].routes[0].targets[0]: no backend named 'nosuch'"))).toBe(true);
  });
});

describe("YAML", () => {
  test("a syntax error carries line and column", () => {
    const [first] = problems("server:\n  port: 4080\nbackends: [\n  - a\n");
    expect(first).toMatch(/^YAML syntax at line \d+, column \d+: /);
  });

  test("a duplicate key is an error with its line, and the other stages still run", () => {
    const found = problems("server:\n  port: 4080\n  port: 4081\nbackends:\n  - name: a\n    url: nope\n");
    expect(found).toContain("YAML duplicate key at line 3, column 3: the same key twice in one mapping");
    expect(found.some((p) => p.startsWith("backends[0].url:"))).toBe(true);
  });
});

describe("types are not coerced silently", () => {
  test("non-integers where integers are meant", () => {
    const found = problems("server:\n  port: 4080.5\n  max_body_bytes: 1.5\nbackends: []\n");
    expect(found).toContain("server.port: expected integer");
    expect(found).toContain("server.max_body_bytes: expected integer");
  });

  test("a number where a string is meant", () => {
    expect(problems("backends:\n  - name: 123\n    url: http://127.0.0.1:8000/v1\n")).toContain("backends[0].name: expected string");
  });

  test("a quoted number where a number is meant", () => {
    expect(problems("server:\n  port: '4080'\nbackends: []\n")).toContain("server.port: expected integer");
  });

  test("`backends:` written as a mapping", () => {
    expect(problems("backends:\n  a:\n    url: http://127.0.0.1:8000/v1\n")).toContain("backends: expected a list of backends (each starting with '- name: ...'), or 'discover'");
  });

  test("a ${VAR} still converts to the number or boolean the schema wants", () => {
    const snapshot = parseConfig("server:\n  port: ${PORT}\n  stream_default: ${STREAM}\nbackends: []\n", "t.yaml", { PORT: "4100", STREAM: "true" });
    expect(snapshot.server.port).toBe(4100);
    expect(snapshot.server.stream_default).toBe(true);
    expect(problems("server:\n  port: ${PORT}\nbackends: []\n", { PORT: "4100.5" })).toContain("server.port: expected integer");
  });
});
