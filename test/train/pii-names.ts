/**
 * Rebuilds src/detectors/lists/names.txt, the first-name and surname lists the person detector ships with:
 *   - @faker-js/faker's locale data (Latin-script locales): first names and surnames. A name that is also an
 *     everyday lowercase word in the English Hunspell dictionary ("Will", "Rose", "Mark", "Bill") goes to the
 *     `*Common` lists, which the detector only believes with more context;
 *   - gender-detection-from-name's first-name lists (en, fr, es, it, de, tr; ~60,000 names given to children,
 *     from Indian, Arabic, African and Latin American families too, which faker's lists lack): single names of
 *     three letters or more, and only those that are no word in the English, German, Spanish or French Hunspell
 *     dictionaries, common or proper ("Steel", "Cotton", "Trust", "Dijon", "Provence" are left out rather than
 *     made common: a common first name before any capitalised word counts, and "Steel Bike" is no one).
 * Both packages are devDependencies: the gateway ships only the generated file, one list per line
 * (`<list> <name> <name> …`), read on the first person search. Deterministic: the lists are sorted.
 */
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allLocales } from "@faker-js/faker";

const root = join(import.meta.dir, "../..");
const require = createRequire(import.meta.url);
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

/**
 * Headwords of Hunspell dictionaries, lower-cased: with `properNouns`, also the capitalised ones (places,
 * brands: "Dijon", "Provence"), which a first-name list of children's names holds too.
 */
function headwords(languages: readonly string[], properNouns: boolean): Set<string> {
  const words = new Set<string>();
  for (const language of languages) {
    const dic = readFileSync(join(root, `node_modules/dictionary-${language}/index.dic`), "utf8");
    for (const line of dic.split("\n")) {
      const word = line.split("/")[0]!.trim();
      if (/^\p{Ll}/u.test(word) || (properNouns && /^\p{Lu}/u.test(word))) words.add(word.toLowerCase());
    }
  }
  return words;
}
const englishWords = headwords(["en"], false);
const everydayWords = headwords(["en", "de", "es", "fr"], true);

const given = new Set<string>();
for (const language of ["en", "fr", "es", "it", "de", "tr"]) {
  const names = require(`gender-detection-from-name/names/${language}.js`) as Map<string, string>;
  for (const name of names.keys()) {
    if (name.length < 3 || /\s/.test(name) || everydayWords.has(name)) continue;
    const word = name.split("-").map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join("-");
    if (LATIN_WORD.test(word) && !first.has(word)) given.add(word);
  }
}

const split = (names: Set<string>) => {
  const sorted = [...names].sort();
  return [sorted.filter((n) => !englishWords.has(n.toLowerCase())), sorted.filter((n) => englishWords.has(n.toLowerCase()))] as const;
};
const [fakerFirst, firstCommon] = split(first);
const firstPlain = [...new Set([...fakerFirst, ...given])].sort();
const [lastPlain, lastCommon] = split(last);
const out = join(root, "src/detectors/lists/names.txt");
const lines = [
  "# first names and surnames for the person detector: @faker-js/faker locale data and gender-detection-from-name's lists; rebuilt by test/train/pii-names.ts",
  `first ${firstPlain.join(" ")}`,
  `firstCommon ${firstCommon.join(" ")}`,
  `last ${lastPlain.join(" ")}`,
  `lastCommon ${lastCommon.join(" ")}`,
];
writeFileSync(out, lines.join("\n") + "\n");
console.log(
  `names.txt: ${firstPlain.length} (${given.size} from gender-detection-from-name) + ${firstCommon.length} common first names, ${lastPlain.length} + ${lastCommon.length} common surnames, ${(lines.join("\n").length / 1024).toFixed(0)} KB`,
);
