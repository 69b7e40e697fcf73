// storage.url accepts PostgreSQL, and a shared store (or shared limits) needs one session secret for all gateways.
import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../src/config/load.ts";

const BACKENDS = `backends:\n  - {name: echo, url: "http://127.0.0.1:9/v1"}\n`;
const SECRET = `"${"s".repeat(40)}"`;

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml + BACKENDS, "test.yaml", {});
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("storage config", () => {
  test("postgres:// and postgresql:// are stores; the password never appears in a problem", () => {
    for (const url of ["postgres://sluice:hunter2@db:5432/sluice", "postgresql://sluice:hunter2@db/sluice"]) {
      expect(problems(`auth: {session_secret: ${SECRET}}\nstorage: {url: "${url}"}\n`)).toEqual([]);
    }
    const bad = problems(`storage: {url: "mysql://root:hunter2@db/x"}\n`);
    expect(bad.join("\n")).toContain("storage.url: expected sqlite:<file> (the embedded store) or postgres://");
    expect(bad.join("\n")).not.toContain("hunter2");
  });

  test("a shared store or shared limits without auth.session_secret is refused with a clear message", () => {
    const pg = problems(`storage: {url: "postgres://db/sluice"}\n`);
    expect(pg).toHaveLength(1);
    expect(pg[0]).toStartWith("auth.session_secret: required when storage.url is PostgreSQL");
    const redis = problems(`limits: {url: "redis://127.0.0.1:6379"}\n`);
    expect(redis[0]).toStartWith("auth.session_secret: required when limits.url is Redis");
    expect(problems(`storage: {url: "sqlite:./x.db"}\n`)).toEqual([]); // one gateway: the generated secret is fine
  });

  test("storage.ledger_via: stream needs PostgreSQL and Redis; a typo in it is reported", () => {
    const both = `auth: {session_secret: ${SECRET}}\nlimits: {url: "redis://:hunter2@cache:6379"}\nstorage: {url: "postgres://sluice:hunter2@db/sluice", ledger_via: stream}\n`;
    expect(problems(both)).toEqual([]);
    const noRedis = problems(`auth: {session_secret: ${SECRET}}\nstorage: {url: "postgres://sluice:hunter2@db/sluice", ledger_via: stream}\n`);
    expect(noRedis).toHaveLength(1);
    expect(noRedis[0]).toStartWith("storage.ledger_via: stream needs storage.url postgres://… and limits.url redis://…");
    expect(noRedis[0]).not.toContain("hunter2");
    const noPostgres = problems(`auth: {session_secret: ${SECRET}}\nlimits: {url: "redis://cache:6379"}\nstorage: {ledger_via: stream}\n`);
    expect(noPostgres[0]).toStartWith("storage.ledger_via: stream needs");
    expect(problems(`storage: {ledger_via: streams}\n`).join("\n")).toContain("storage.ledger_via");
    expect(problems(`storage: {ledger_via: batch}\n`)).toEqual([]);
  });
});
