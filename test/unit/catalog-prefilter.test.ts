import { describe, expect, test } from "bun:test";
import { COMPILED_CATALOGS, INJECTION_CATALOGS, matchCatalog, type CompiledCatalog } from "../../src/detectors/injection-catalogs.ts";
import { cutVariants } from "../../src/detectors/injection-features.ts";
import { LiteralScanner } from "../../src/detectors/literal-scanner.ts";
import { normalizeForMatching } from "../../src/detectors/normalize.ts";
import { requiredLiterals } from "../../src/detectors/required-literals.ts";
import { findTopics, TOPIC_NAMES } from "../../src/detectors/topics.ts";
import topicsCatalog from "../../src/detectors/catalogs/topics.json" with { type: "json" };
import { readJsonl } from "../train/lib/softmax.ts";

describe("requiredLiterals", () => {
  test("every required part of a sequence is a clause, the most selective two kept", () => {
    expect(requiredLiterals(String.raw`\bignore (?:all|any) rules\b`)).toEqual([["ignore "], [" rules"]]);
    expect(requiredLiterals(String.raw`(?:foo)+\s(?:bar|bazz)`)).toEqual([["foo"], ["bar", "bazz"]]);
  });

  test("small classes multiply out; optional parts and wide classes end a run", () => {
    expect(requiredLiterals("summari[sz]e")).toEqual([["summarise", "summarize"]]);
    expect(requiredLiterals("colou?r")).toEqual([["colo"]]);
    expect(requiredLiterals(String.raw`\w+ing`)).toEqual([["ing"]]);
    expect(requiredLiterals("(?:foo)?bar")).toEqual([["bar"]]);
  });

  test("alternatives share one clause; one unbounded alternative bounds nothing", () => {
    expect(requiredLiterals(String.raw`\bsecret word\b|never (?:say|tell)`)).toEqual([["secret word", "never "]]);
    expect(requiredLiterals(String.raw`(?:abc|\w+)`)).toEqual([]);
    expect(requiredLiterals("a.{0,5}b")).toEqual([]);
  });
});

describe("LiteralScanner", () => {
  test("reports every string that occurs, overlapping ones included", () => {
    const scanner = new LiteralScanner(["he", "she", "his", "hers"], [0, 1, 2, 3]);
    const found = new Uint8Array(4);
    scanner.scan("ushers", found);
    expect([...found]).toEqual([1, 1, 0, 1]);
  });

  test("strings may share a tag; characters no string uses reset the match", () => {
    const scanner = new LiteralScanner(["ignore", "forget", "rules"], [0, 0, 1]);
    const found = new Uint8Array(2);
    scanner.scan("igno€re the forge t and forget", found);
    expect([...found]).toEqual([1, 0]);
  });
});

/** Every rule run on every variant: what matchCatalog must equal. */
const bruteForce = (compiled: CompiledCatalog, variants: string[]) =>
  compiled.rules.filter((rule) => variants.some((variant) => rule.regex.test(variant))).map((rule) => rule.id);
const prefiltered = (compiled: CompiledCatalog, variants: string[]) => matchCatalog(compiled, variants).map((hit) => hit.rule);

describe("the prefilter never changes a catalog's hits", () => {
  test("on the hand-written fixtures and the written probe", async () => {
    const texts = [
      ...(await readJsonl<{ text: string }>("test/fixtures/injection-dev.jsonl")),
      ...(await readJsonl<{ text: string }>("test/fixtures/probe/injection.jsonl")),
    ].map((row) => row.text);
    let hits = 0;
    for (const text of texts) {
      const variants = cutVariants(normalizeForMatching(text));
      for (const compiled of COMPILED_CATALOGS) {
        const expected = bruteForce(compiled, variants);
        expect(prefiltered(compiled, variants)).toEqual(expected);
        hits += expected.length;
      }
    }
    expect(texts.length).toBeGreaterThan(1000);
    expect(hits).toBeGreaterThan(500);
  });

  test("on texts made of the catalogs' own words, shuffled", () => {
    // words taken from the patterns themselves, so the prefilter's strings occur in every arrangement
    const words = [...new Set(INJECTION_CATALOGS.flatMap((catalog) => catalog.rules.flatMap((rule) => rule.pattern.match(/[a-z']{2,}/g) ?? [])))];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let hits = 0;
    for (let i = 0; i < 400; i++) {
      const text = Array.from({ length: 5 + Math.floor(random() * 40) }, () => words[Math.floor(random() * words.length)]).join(random() < 0.5 ? " " : " the ");
      const variants = cutVariants(normalizeForMatching(text));
      for (const compiled of COMPILED_CATALOGS) {
        const expected = bruteForce(compiled, variants);
        expect(prefiltered(compiled, variants)).toEqual(expected);
        hits += expected.length;
      }
    }
    expect(hits).toBeGreaterThan(200);
  });
});

describe("the prefilter never changes the topics found", () => {
  test("on the fixtures, the probe and texts made of the topics' own words", async () => {
    const patterns = Object.values(topicsCatalog.topics).flatMap((topic) => topic.patterns);
    const regexes = Object.entries(topicsCatalog.topics).flatMap(([topic, { patterns }]) => patterns.map((pattern, i) => ({ topic, rule: `${topic}#${i + 1}`, regex: new RegExp(pattern, "u") })));
    const words = [...new Set(patterns.flatMap((pattern) => pattern.match(/[a-z']{2,}/g) ?? []))];
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const texts = [
      ...(await readJsonl<{ text: string }>("test/fixtures/injection-dev.jsonl")).map((row) => row.text),
      ...(await readJsonl<{ text: string }>("test/fixtures/probe/injection.jsonl")).map((row) => row.text),
      ...Array.from({ length: 400 }, () => Array.from({ length: 5 + Math.floor(random() * 30) }, () => words[Math.floor(random() * words.length)]).join(" ")),
    ];
    let hits = 0;
    for (const text of texts) {
      const variants = normalizeForMatching(text);
      const expected = regexes.filter(({ regex }) => variants.some((variant) => regex.test(variant))).map(({ topic, rule }) => ({ topic, rule }));
      expect(findTopics(text, TOPIC_NAMES)).toEqual(expected);
      hits += expected.length;
    }
    expect(hits).toBeGreaterThan(40);
  });
});
