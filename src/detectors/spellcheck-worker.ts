// The Hunspell side of spellcheck.ts, run in a Worker so that building a dictionary (French: 3-6 s) and suggesting
// for long texts never block the gateway's event loop. It holds the dictionaries and the suggestion cache, and answers
// each SpellRequest with one SpellReply carrying the same id. It is an entrypoint of `bun build --compile` (see the
// build script in package.json), so the dictionaries it imports are embedded in the binary.
//
// The dictionary-* packages read index.aff/index.dic with fs next to their own index.js, which is not on disk inside a
// compiled binary. Importing the files `with { type: "file" }` embeds them instead; the import is a path that Bun.file
// reads. The packages' `exports` allow only index.js, hence the paths into node_modules.
import nspell from "nspell";
import type { Correction, SpellLanguage, SpellResult } from "./spellcheck.ts";
import enAff from "../../node_modules/dictionary-en/index.aff" with { type: "file" };
import enDic from "../../node_modules/dictionary-en/index.dic" with { type: "file" };
import deAff from "../../node_modules/dictionary-de/index.aff" with { type: "file" };
import deDic from "../../node_modules/dictionary-de/index.dic" with { type: "file" };
import frAff from "../../node_modules/dictionary-fr/index.aff" with { type: "file" };
import frDic from "../../node_modules/dictionary-fr/index.dic" with { type: "file" };
import esAff from "../../node_modules/dictionary-es/index.aff" with { type: "file" };
import esDic from "../../node_modules/dictionary-es/index.dic" with { type: "file" };

export interface SpellRequest {
  id: number;
  text: string;
  language: SpellLanguage;
}
export type SpellReply = { id: number; result: SpellResult } | { id: number; error: string };

const DICTIONARY_FILES: Record<SpellLanguage, { aff: string; dic: string }> = {
  en: { aff: enAff, dic: enDic },
  de: { aff: deAff, dic: deDic },
  fr: { aff: frAff, dic: frDic },
  es: { aff: esAff, dic: esDic },
};

// nspell's suggest() costs 2-40 ms a word, and hundreds on a long word it finds nothing for, so a text pays for at most
// this many misspelled words, and longer words than MAX_WORD_LENGTH (rarely typos, slowest to suggest for) are left alone.
const MAX_MISSPELLED_WORDS_PER_TEXT = 200;
const MAX_WORD_LENGTH = 30;
// Two-letter tokens are mostly abbreviations and chat slang, where the first suggestion is noise ("ok" -> "oi").
const MIN_WORD_LENGTH = 3;
const SUGGESTION_CACHE_ENTRIES = 5_000;
// A text of at least this many checked words is left alone when more than this share of them is unknown.
const LANGUAGE_GUARD_MIN_WORDS = 8;
const LANGUAGE_GUARD_MAX_MISSPELLED_SHARE = 0.5;

// Spans never corrected (tried first at each position): fenced and inline code, URLs, emails. Everything else that
// looks like a word (letters, marks, digits, `_`, inner apostrophes and hyphens) is a token; ones with digits or `_`
// are identifiers or codes and are skipped later.
const SCAN =
  /```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]*`|(?:[a-z][a-z\d+.-]*:\/\/|www\.)[^\s<>"'`]+|[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+|(?<word>[\p{L}\p{M}\p{N}_]+(?:['’-][\p{L}\p{M}\p{N}_]+)*)/giu;
// A token touching one of these is part of a path, handle, hashtag or dotted name (`config.yaml`, `@alice`, `#tag`).
const GLUED_BEFORE = /[./\\@#]/;
const GLUED_AFTER = /[/\\@]/;
const SENTENCE_END = /[.!?…]/;
// What may stand between a sentence end (or line start) and the sentence's first word: spaces, quotes, brackets,
// markdown bullets and headings, Spanish opening marks.
const SENTENCE_OPENER = /[\s"'“”‘’«»„¿¡([{*_>#–—-]/;

type Checker = ReturnType<typeof nspell>;

const checkers = new Map<SpellLanguage, Promise<Checker>>();
const suggestions = new Map<string, string | null>(); // insertion order = recency: an LRU

addEventListener("message", async (event: MessageEvent<SpellRequest>) => {
  const { id, text, language } = event.data;
  try {
    postMessage({ id, result: correctText(await loadChecker(language), language, text) } satisfies SpellReply);
  } catch (error) {
    // An Error does not cross threads intact: only its message goes back, and the worker keeps serving.
    postMessage({ id, error: error instanceof Error ? error.message : String(error) } satisfies SpellReply);
  }
});

function correctText(checker: Checker, language: SpellLanguage, text: string): SpellResult {
  const { checked, misspelled } = findMisspelled(checker, language, text);
  // Mostly unknown words means another language (or not prose): "correcting" it would mangle it and take seconds.
  if (checked >= LANGUAGE_GUARD_MIN_WORDS && misspelled.length > checked * LANGUAGE_GUARD_MAX_MISSPELLED_SHARE) {
    return { text, corrections: [] };
  }
  const corrections: Correction[] = [];
  for (const { word, offset } of misspelled.slice(0, MAX_MISSPELLED_WORDS_PER_TEXT)) {
    const to = suggestionFor(checker, language, word);
    if (to !== null) corrections.push({ from: word, to, offset });
  }
  return { text: applyCorrections(text, corrections), corrections };
}

interface Misspelling {
  word: string;
  offset: number;
}

/** The words of `text` worth checking (`checked` counts them) and those the dictionary does not know. */
function findMisspelled(checker: Checker, language: SpellLanguage, text: string): { checked: number; misspelled: Misspelling[] } {
  let checked = 0;
  const misspelled: Misspelling[] = [];
  const visit = (word: string, offset: number, capitalIsName: boolean): void => {
    if (skipWord(word, capitalIsName)) return;
    const known = isKnown(checker, word) || (language === "de" && isCapitalized(word) && isGermanCompound(checker, word, 3));
    if (!known && word.includes("-")) {
      // Judge hyphenated words by their parts: Hunspell lacks many ("well-known", "E-Mail") and suggests joining them.
      let partOffset = offset;
      for (const [index, part] of word.split("-").entries()) {
        visit(part, partOffset, index === 0 ? capitalIsName : language !== "de");
        partOffset += part.length + 1;
      }
      return;
    }
    checked++;
    if (!known) misspelled.push({ word, offset });
  };
  for (const match of text.matchAll(SCAN)) {
    const word = match.groups?.word;
    if (word === undefined || isGlued(text, match.index, match.index + word.length)) continue;
    // Outside German (where every noun is capitalized) a capital in mid-sentence marks a name, which no dictionary
    // has: "Kubernetes" must not become "Kuberneteses".
    visit(word, match.index, language !== "de" && !startsSentence(text, match.index));
  }
  return { checked, misspelled };
}

function loadChecker(language: SpellLanguage): Promise<Checker> {
  let checker = checkers.get(language);
  if (!checker) {
    const files = DICTIONARY_FILES[language];
    checker = Promise.all([Bun.file(files.aff).text(), Bun.file(files.dic).text()]).then(([aff, dic]) => nspell(aff, dic));
    checker.catch(() => checkers.delete(language)); // a failed load is retried by the next call
    checkers.set(language, checker);
  }
  return checker;
}

function skipWord(word: string, capitalIsName: boolean): boolean {
  if (word.length > MAX_WORD_LENGTH || /[\p{N}_]/u.test(word)) return true;
  if (word.replace(/[^\p{L}]/gu, "").length < MIN_WORD_LENGTH) return true;
  if (word === word.toUpperCase()) return true; // acronym (or no letters)
  if (/\p{L}\p{Lu}/u.test(word)) return true; // inner capital: identifier or brand ("JavaScript", "iPhone")
  return capitalIsName && isCapitalized(word);
}

/** Known in any casing: capitalization is never treated as a typo (German nouns, sentence starts, "paris"). */
function isKnown(checker: Checker, word: string): boolean {
  const lower = word.toLowerCase();
  return checker.correct(word) || checker.correct(lower) || checker.correct(capitalize(lower));
}

// The German dictionary leaves compounds to Hunspell's compounding rules, which nspell does not implement, so
// "Ladegerät" or "Sendungsverfolgung" would be misspelled, and suggest() spends 100-400 ms on each to find nothing (or
// a wrong near-miss: "Webseite" -> "Website"). Accept a capitalized word (a noun) that splits into known words, the
// first part possibly a verb stem ("Liefer|adresse") or ending in a linking s ("Auftrags|nummer"). Lowercase words are
// left out because there the split misfires on typos ("vieleicht" = "viel|eicht").
const MIN_COMPOUND_PART = 3;
const MIN_COMPOUND_TAIL = 4;

function isGermanCompound(checker: Checker, word: string, maxParts: number): boolean {
  for (let split = MIN_COMPOUND_PART; split <= word.length - MIN_COMPOUND_TAIL; split++) {
    const head = word.slice(0, split);
    const heads = [head, `${head}n`, `${head}en`];
    if (head.endsWith("s") && head.length > MIN_COMPOUND_PART) heads.push(head.slice(0, -1));
    if (!heads.some((candidate) => isKnown(checker, candidate))) continue;
    const tail = capitalize(word.slice(split));
    if (isKnown(checker, tail) || (maxParts > 2 && isGermanCompound(checker, tail, maxParts - 1))) return true;
  }
  return false;
}

function suggestionFor(checker: Checker, language: SpellLanguage, word: string): string | null {
  const key = `${language}\u0000${word}`;
  const cached = suggestions.get(key);
  if (cached !== undefined) {
    suggestions.delete(key);
    suggestions.set(key, cached);
    return cached;
  }
  const lower = word.toLowerCase();
  // Drop compound fragments the German dictionary offers ("-Mail"), acronyms ("deja" -> "DEA") and changes of case.
  const candidates = checker
    .suggest(word)
    .filter((s) => !s.startsWith("-") && !s.endsWith("-") && s !== s.toUpperCase() && s.toLowerCase() !== lower);
  // nspell does not rank accent fixes first ("recu" -> "rebu" before "reçu"), yet a missing accent is the likeliest
  // typo in French, Spanish and German, so a suggestion that differs only in accents wins.
  const bare = stripAccents(lower);
  const pick = candidates.find((s) => stripAccents(s.toLowerCase()) === bare) ?? candidates[0];
  const suggestion = pick === undefined ? null : restyle(pick, word);
  suggestions.set(key, suggestion);
  if (suggestions.size > SUGGESTION_CACHE_ENTRIES) suggestions.delete(suggestions.keys().next().value!);
  return suggestion;
}

/** Gives the suggestion the original's capital and apostrophe (the French dictionary suggests "l’hôtel" for "l'hotel"). */
function restyle(suggestion: string, original: string): string {
  let styled = isCapitalized(original) ? capitalize(suggestion) : suggestion;
  if (original.includes("'")) styled = styled.replaceAll("’", "'");
  else if (original.includes("’")) styled = styled.replaceAll("'", "’");
  return styled;
}

function applyCorrections(text: string, corrections: readonly Correction[]): string {
  let out = "";
  let from = 0;
  for (const correction of corrections) {
    out += text.slice(from, correction.offset) + correction.to;
    from = correction.offset + correction.from.length;
  }
  return out + text.slice(from);
}

function isGlued(text: string, start: number, end: number): boolean {
  const before = text[start - 1];
  const after = text[end];
  if (before !== undefined && GLUED_BEFORE.test(before)) return true;
  if (after === undefined) return false;
  return GLUED_AFTER.test(after) || (after === "." && /[\p{L}\p{N}]/u.test(text[end + 1] ?? ""));
}

function startsSentence(text: string, offset: number): boolean {
  for (let i = offset - 1; i >= 0; i--) {
    const char = text[i]!;
    if (char === "\n" || SENTENCE_END.test(char)) return true;
    if (!SENTENCE_OPENER.test(char)) return false;
  }
  return true;
}

function stripAccents(word: string): string {
  return word.normalize("NFD").replace(/\p{M}/gu, "");
}

function isCapitalized(word: string): boolean {
  const first = word.charAt(0);
  return first !== first.toLowerCase();
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
