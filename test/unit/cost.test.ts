import { describe, expect, test } from "bun:test";
import { costOf, estimatePromptTokensUpperBound, worstCaseCostMicros } from "../../src/billing/cost.ts";

describe("costOf", () => {
  test("compute backends bill active GPU time: $3.60/h for one second is 1000 micro-dollars", () => {
    expect(costOf({ gpuHourUsd: 3.6 }, { promptTokens: 10, completionTokens: 10 }, 1000)).toEqual({ micros: 1000, basis: "gpu_time" });
    expect(costOf({ gpuHourUsd: 2 }, { promptTokens: 0, completionTokens: 0 }, 3_600_000)).toEqual({ micros: 2_000_000, basis: "gpu_time" });
  });

  test("public models bill per token: USD per million tokens × tokens = micro-dollars", () => {
    const pricing = { inputPerMtokUsd: 0.15, outputPerMtokUsd: 0.6 };
    // 0.15 × 1000 is 150.00000000000003 in binary floats; that noise must not cost an extra micro-dollar
    expect(costOf(pricing, { promptTokens: 1000, completionTokens: 500 }, 99_999)).toEqual({ micros: 450, basis: "tokens" });
    expect(costOf({ outputPerMtokUsd: 2 }, { promptTokens: 1000, completionTokens: 3 }, 0)).toEqual({ micros: 6, basis: "tokens" });
  });

  test("fractions of a micro-dollar round up, never down", () => {
    expect(costOf({ inputPerMtokUsd: 0.1 }, { promptTokens: 1, completionTokens: 0 }, 0).micros).toBe(1);
    expect(costOf({ inputPerMtokUsd: 0.15, outputPerMtokUsd: 0.6 }, { promptTokens: 7, completionTokens: 3 }, 0).micros).toBe(3); // 1.05 + 1.8
    expect(costOf({ gpuHourUsd: 1 }, { promptTokens: 0, completionTokens: 0 }, 1).micros).toBe(1); // 0.277…
    expect(costOf({ gpuHourUsd: 3.6 }, { promptTokens: 0, completionTokens: 0 }, 1001).micros).toBe(1001);
  });

  test("tokens win when both token and GPU prices are set", () => {
    expect(costOf({ gpuHourUsd: 100, inputPerMtokUsd: 1 }, { promptTokens: 5, completionTokens: 5 }, 60_000)).toEqual({ micros: 5, basis: "tokens" });
  });

  test("no pricing is free; nonsense inputs never make a negative cost", () => {
    expect(costOf({}, { promptTokens: 100, completionTokens: 100 }, 1000)).toEqual({ micros: 0, basis: "none" });
    expect(costOf({ gpuHourUsd: 1 }, { promptTokens: 0, completionTokens: 0 }, -5)).toEqual({ micros: 0, basis: "gpu_time" });
    expect(Object.is(costOf({ gpuHourUsd: 1 }, { promptTokens: 0, completionTokens: 0 }, 0).micros, 0)).toBe(true);
    expect(costOf({ inputPerMtokUsd: 1 }, { promptTokens: Number.NaN, completionTokens: 0 }, 0).micros).toBe(0);
  });
});

describe("worstCaseCostMicros", () => {
  const messages = [{ role: "user", content: "Summarise the attached report in three bullet points, please." }];
  const bound = estimatePromptTokensUpperBound(messages);

  test("tokens: the prompt bound plus every completion token the request may ask for", () => {
    expect(worstCaseCostMicros({ inputPerMtokUsd: 1, outputPerMtokUsd: 4 }, 100, 50, 600_000)).toBe(300);
  });

  test("gpu time: the GPU for the whole upstream timeout", () => {
    expect(worstCaseCostMicros({ gpuHourUsd: 3.6 }, 100, 50, 600_000)).toBe(600_000);
  });

  test("none: nothing to reserve", () => {
    expect(worstCaseCostMicros({}, 100, 50, 600_000)).toBe(0);
  });

  test("the reservation is never below the actual cost of the same request", () => {
    const pricings = [{ inputPerMtokUsd: 0.15, outputPerMtokUsd: 0.6 }, { inputPerMtokUsd: 3 }, { gpuHourUsd: 2.49 }, {}];
    for (const pricing of pricings) {
      const reserved = worstCaseCostMicros(pricing, bound, 256, 30_000);
      for (const [promptTokens, completionTokens, upstreamMs] of [[12, 0, 1], [12, 256, 29_999], [bound, 256, 30_000], [1, 1, 0]] as const) {
        expect(reserved).toBeGreaterThanOrEqual(costOf(pricing, { promptTokens, completionTokens }, upstreamMs).micros);
      }
    }
  });
});

describe("estimatePromptTokensUpperBound", () => {
  // Naive count, generous where BPE is frugal: one token per ASCII word or number, per run of ASCII punctuation
  // (BPE merges `":{"`), and per non-ASCII character. Known gap, by design of bytes / 2: text that an engine
  // splits into one token per byte (digit-by-digit tokenizers on "1,2,3,…") can exceed the bound.
  function naiveTokenCount(text: string): number {
    return (text.match(/[A-Za-z0-9]+|[!-/:-@[-`{-~]+|[^\x00-\x7f]/gu) ?? []).length;
  }

  test.each([
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog. 1234567890",
    "日本語のテキストはトークンが多い。",
    "Ünïcödé — naïve café, Ελληνικά, русский текст",
    "emoji 🚀🔥👍🏽 and math ∑∫√",
    "{\"a\":[1,2,3],\"b\":{\"c\":\"d\"}}",
  ])("is at least a naive token count for %p", (text) => {
    expect(estimatePromptTokensUpperBound([{ role: "user", content: text }])).toBeGreaterThanOrEqual(naiveTokenCount(text));
  });

  test("bytes / 2 rounded up, plus 8 template tokens per message", () => {
    expect(estimatePromptTokensUpperBound([])).toBe(0);
    expect(estimatePromptTokensUpperBound([{ role: "user", content: "abc" }])).toBe(2 + 8);
    expect(estimatePromptTokensUpperBound([{ role: "user", content: "é" }, { role: "assistant", content: "" }])).toBe(1 + 16);
  });

  test("counts text parts, names and tool calls; skips images and junk", () => {
    const messages: unknown[] = [
      { role: "system", content: "abcd" },
      { role: "user", name: "ab", content: [{ type: "text", text: "abcdef" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get", arguments: "{\"q\":1}" } }] },
      null,
      "not a message",
    ];
    // bytes: 4 + (2 + 6) + (3 + 7) = 22 → 11, plus 5 messages × 8
    expect(estimatePromptTokensUpperBound(messages)).toBe(11 + 40);
  });
});
