// server.workers in the config: an integer from 1 or "auto", also from an environment variable.
import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../src/config/load.ts";

const yaml = (workers: string) => `server:\n  workers: ${workers}\nbackends:\n  - {name: a, url: "http://127.0.0.1:8000/v1"}\n`;

function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(text, "t", env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("server.workers", () => {
  test("defaults to 1; takes an integer or auto, written or from ${VAR}", () => {
    expect(parseConfig("backends: []\n", "t", {}).server.workers).toBe(1);
    expect(parseConfig(yaml("3"), "t", {}).server.workers).toBe(3);
    expect(parseConfig(yaml("auto"), "t", {}).server.workers).toBe("auto");
    expect(parseConfig(yaml("${W}"), "t", { W: "2" }).server.workers).toBe(2);
    expect(parseConfig(yaml("${W}"), "t", { W: "auto" }).server.workers).toBe("auto");
  });

  test("anything else is a problem that says what is expected", () => {
    expect(problems(yaml("two"))).toEqual(['server.workers: expected an integer or one of "auto"']);
    expect(problems(yaml("${W}"), { W: "two" })).toEqual(['server.workers: expected an integer or one of "auto"']);
    expect(problems(yaml("0"))[0]).toStartWith("server.workers:");
    expect(problems(yaml("1.5"))[0]).toStartWith("server.workers:");
  });
});
