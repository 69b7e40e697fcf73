import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/database.ts";
import { LedgerWriter, type LedgerRow } from "../../src/store/ledger.ts";
import { queryUsage, spentMicrosSince, usageCsv, type UsageReport } from "../../src/store/usage.ts";

const DAY_MS = 86_400_000;
const JUNE_1 = Date.UTC(2025, 5, 1);
const JUNE_2 = JUNE_1 + DAY_MS;
const JUNE_3 = JUNE_2 + DAY_MS;

const dir = mkdtempSync(join(tmpdir(), "sluice-usage-"));
let db: Database;

function row(requestId: string, keyId: string | null, model: string, startedAt: number, promptTokens: number, completionTokens: number, costMicros: number): LedgerRow {
  return {
    requestId, keyId, model, startedAt, promptTokens, completionTokens, costMicros,
    backend: model, route: null, endpoint: "chat", status: 200, errorCode: null, tokensEstimated: false,
    billingBasis: "tokens", stream: false, totalMs: 1, upstreamMs: 1, queuedMs: null, ttftMs: null, firewall: null, firewallVerdict: null, firewallRules: null, firewallMs: null, toolsMs: null,
  };
}

beforeAll(() => {
  db = openDatabase(join(dir, "usage.db"));
  const writer = new LedgerWriter(db);
  // 0.1 + 0.2 style amounts: summed as dollars in floats they would drift; summed as micros they are exact.
  writer.append(row("1", "key_a", "qwen", JUNE_1, 100, 10, 100_000));
  writer.append(row("2", "key_a", "llama", JUNE_1 + DAY_MS - 1, 200, 20, 200_000));
  writer.append(row("3", "key_b", "qwen", JUNE_2, 300, 30, 300_000));
  writer.append(row("4", "key_b", "qwen", JUNE_2 + 5, 1, 1, 1));
  writer.append(row("5", null, "llama", JUNE_3, 5, 5, 0));
  writer.close();
});

afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("queryUsage", () => {
  test("without groupBy, data is the single total row", () => {
    const total = { requests: 5, prompt_tokens: 606, completion_tokens: 66, cost_usd: 0.600001 };
    expect(queryUsage(db, {})).toEqual({ object: "usage", data: [total], total });
  });

  test("with nothing in range, data is still one row of zeros", () => {
    const zero = { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 };
    expect(queryUsage(db, { fromMs: JUNE_3 + DAY_MS })).toEqual({ object: "usage", data: [zero], total: zero });
  });

  test("grouped by key (requests without a key form their own group)", () => {
    const report = queryUsage(db, { groupBy: "key" });
    expect(report.data).toEqual([
      { key_id: null, requests: 1, prompt_tokens: 5, completion_tokens: 5, cost_usd: 0 },
      { key_id: "key_a", requests: 2, prompt_tokens: 300, completion_tokens: 30, cost_usd: 0.3 },
      { key_id: "key_b", requests: 2, prompt_tokens: 301, completion_tokens: 31, cost_usd: 0.300001 },
    ]);
    expect(report.total).toEqual({ requests: 5, prompt_tokens: 606, completion_tokens: 66, cost_usd: 0.600001 });
  });

  test("grouped by model", () => {
    expect(queryUsage(db, { groupBy: "model" }).data).toEqual([
      { model: "llama", requests: 2, prompt_tokens: 205, completion_tokens: 25, cost_usd: 0.2 },
      { model: "qwen", requests: 3, prompt_tokens: 401, completion_tokens: 41, cost_usd: 0.400001 },
    ]);
  });

  test("grouped by UTC day; the last millisecond of a day stays in that day", () => {
    expect(queryUsage(db, { groupBy: "day" }).data).toEqual([
      { day: "2025-06-01", requests: 2, prompt_tokens: 300, completion_tokens: 30, cost_usd: 0.3 },
      { day: "2025-06-02", requests: 2, prompt_tokens: 301, completion_tokens: 31, cost_usd: 0.300001 },
      { day: "2025-06-03", requests: 1, prompt_tokens: 5, completion_tokens: 5, cost_usd: 0 },
    ]);
  });

  test("from is inclusive, to is exclusive", () => {
    const report = queryUsage(db, { fromMs: JUNE_2, toMs: JUNE_3, groupBy: "day" });
    expect(report.data.map((r) => r.day)).toEqual(["2025-06-02"]);
    expect(report.total.requests).toBe(2);
    expect(queryUsage(db, { fromMs: JUNE_1 + 1, toMs: JUNE_2 + 5 }).total.requests).toBe(2); // "2" and "3"
  });

  test("a key filter combines with grouping and the range", () => {
    expect(queryUsage(db, { keyId: "key_b", groupBy: "model" }).data).toEqual([
      { model: "qwen", requests: 2, prompt_tokens: 301, completion_tokens: 31, cost_usd: 0.300001 },
    ]);
    expect(queryUsage(db, { keyId: "key_a", toMs: JUNE_1 + 1 }).total).toEqual({ requests: 1, prompt_tokens: 100, completion_tokens: 10, cost_usd: 0.1 });
    expect(queryUsage(db, { keyId: "nobody", groupBy: "key" })).toEqual({
      object: "usage",
      data: [],
      total: { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 },
    });
  });

  test("values that look like SQL are bound, not spliced", () => {
    expect(queryUsage(db, { keyId: "' OR 1=1 --" }).total.requests).toBe(0);
  });
});

describe("spentMicrosSince", () => {
  test("sums one key's cost from a moment on, in integer micro-dollars", () => {
    expect(spentMicrosSince(db, "key_b", JUNE_1)).toBe(300_001);
    expect(spentMicrosSince(db, "key_b", JUNE_2 + 1)).toBe(1);
    expect(spentMicrosSince(db, "key_a", JUNE_2)).toBe(0);
    expect(spentMicrosSince(db, "nobody", 0)).toBe(0);
  });
});

describe("usageCsv", () => {
  test("header, one CRLF line per row, the grouping column first, dollars with six decimals", () => {
    expect(usageCsv(queryUsage(db, { groupBy: "key" }))).toBe(
      "key_id,requests,prompt_tokens,completion_tokens,cost_usd\r\n" +
        ",1,5,5,0.000000\r\n" +
        "key_a,2,300,30,0.300000\r\n" +
        "key_b,2,301,31,0.300001\r\n",
    );
  });

  test("without grouping: only the metric columns", () => {
    expect(usageCsv(queryUsage(db, { toMs: JUNE_2 }))).toBe("requests,prompt_tokens,completion_tokens,cost_usd\r\n2,300,30,0.300000\r\n");
  });

  test("quotes commas, quotes and line breaks (RFC 4180), and defuses spreadsheet formulas", () => {
    const metrics = { requests: 1, prompt_tokens: 2, completion_tokens: 3, cost_usd: 0.000004 };
    const report: UsageReport = {
      object: "usage",
      data: [
        { model: 'say "hi", ok', ...metrics },
        { model: "two\nlines", ...metrics },
        { model: "=HYPERLINK(\"http://x\")", ...metrics },
        { model: "plain", ...metrics },
      ],
      total: metrics,
    };
    expect(usageCsv(report)).toBe(
      "model,requests,prompt_tokens,completion_tokens,cost_usd\r\n" +
        '"say ""hi"", ok",1,2,3,0.000004\r\n' +
        '"two\nlines",1,2,3,0.000004\r\n' +
        '"\'=HYPERLINK(""http://x"")",1,2,3,0.000004\r\n' +
        "plain,1,2,3,0.000004\r\n",
    );
  });
});
