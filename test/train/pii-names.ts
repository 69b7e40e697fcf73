/**
 * Rebuilds src/detectors/lists/names.json, the first-name and surname lists the person detector ships with, from
 * @faker-js/faker's locale data (Latin-script locales only). Faker is a devDependency: the gateway ships only
 * the generated file. A name that is also an everyday lowercase word in the English
 * Hunspell dictionary ("Will", "Rose", "Mark", "Bill") goes to the `*Common` lists, which the detector only
 * believes with more context. Deterministic: the lists are sorted.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allLocales } from "@faker-js/faker";

const root = join(import.meta.dir, "../..");
const LATIN_WORD = /^\p{Lu}[\p{Script=Latin}'’-]*\p{Ll}[\p{Script=Latin}'’-]*$/u;

type Definitions = Record<string, unknown>;

function collect(value: unknown, into: Set<string>): void {
  if (typeof value === "string") {
    for (const word of value.split(/\s+/)) if (word.length >= 2 && LATIN_WORD.test(word)) into.add(word);
  } else if (Array.isArray(value)) for (const v of value) collect(v, into);
  else if (value && typeof value === "object") for (const v of Object.values(value)) collect(v, into);
}

const first = new Set<string>();
const last = new Set<string>();
for (const [id, locale] of Object.entries(allLocales as Record<string, Definitions>)) {
  if (id.startsWith("en_BORK") || id === "base") continue;
  const person = (locale as { person?: Record<string, unknown> }).person;
  if (!person) continue;
  collect(person.first_name, first);
  collect(person.middle_name, first);
  collect(person.last_name, last);
}

/** Lowercase headwords of the Hunspell dictionaries: the everyday words a capitalised name may also be. */
const common = new Set<string>();
for (const language of ["en"]) {
  const dic = readFileSync(join(root, `node_modules/dictionary-${language}/index.dic`), "utf8");
  for (const line of dic.split("\n")) {
    const word = line.split("/")[0]!;
    if (/^\p{Ll}/u.test(word)) common.add(word);
  }
}

const split = (names: Set<string>) => {
  const sorted = [...names].sort();
  return [sorted.filter((n) => !common.has(n.toLowerCase())), sorted.filter((n) => common.has(n.toLowerCase()))] as const;
};
const [firstPlain, firstCommon] = split(first);
const [lastPlain, lastCommon] = split(last);
const out = join(root, "src/detectors/lists/names.json");
const json = JSON.stringify({ source: "@faker-js/faker locale data, test/train/pii-names.ts", first: firstPlain, firstCommon, last: lastPlain, lastCommon });
writeFileSync(out, json + "\n");
console.log(
  `names.json: ${firstPlain.length} + ${firstCommon.length} common first names, ${lastPlain.length} + ${lastCommon.length} common surnames, ${(json.length / 1024).toFixed(0)} KB`,
);
