/**
 * Text normalisation for rule matching: turns the tricks people use to slip a phrase past a regex back into
 * the plain phrase, so a catalog rule is written once, in lower-case ASCII, and matched against every variant.
 *
 * Variants, in order (duplicates dropped):
 *   1. folded: invisible characters removed (zero-width, bidi controls, soft hyphen, Unicode tag characters),
 *      compatibility-decomposed (NFKD: fullwidth and mathematical letters become ASCII) with combining marks
 *      stripped (accents, "zalgo" marks), lower-cased, look-alike letters from other scripts folded to ASCII
 *      (Cyrillic "і", Greek "ο", small capitals), whitespace collapsed to single spaces.
 *   2. spaced-out letters joined: "i g n o r e", "i-g-n-o-r-e" → "ignore" (only when such a run exists).
 *   3. leetspeak undone inside words that mix letters with 0 1 3 4 5 7 @ $ (only when such words exist; a "1"
 *      gives two variants, one read as "i" and one as "l").
 *   4. for each base64 run that decodes to mostly printable UTF-8, and for text hidden in Unicode tag characters:
 *      that text, normalised the same way (one level of nesting).
 *
 * Decomposition plus mark stripping (rather than NFKC alone) also takes accents off: "précédentes" is matched
 * as "precedentes", so French, Spanish and German rules are written without accents.
 *
 * Cost is a handful of linear passes; pure-ASCII text skips the Unicode ones.
 */

/** Look-alikes that NFKD leaves alone; applied after lower-casing, so only lower-case forms are needed. */
const CONFUSABLES: Readonly<Record<string, string>> = {
  // Cyrillic
  а: "a", в: "b", г: "r", е: "e", ё: "e", і: "i", ї: "i", ј: "j", к: "k", м: "m", н: "h",
  о: "o", п: "n", р: "p", с: "c", т: "t", у: "y", х: "x", ѕ: "s", ь: "b", һ: "h", ԁ: "d", ԛ: "q", ԝ: "w",
  ӏ: "l", ү: "y", ɡ: "g",
  // Greek
  α: "a", β: "b", γ: "y", δ: "d", ε: "e", η: "n", ι: "i", κ: "k", ν: "v", ο: "o", ρ: "p", σ: "o", ς: "s",
  τ: "t", υ: "u", χ: "x", ω: "w", μ: "u", ϲ: "c",
  // Armenian
  օ: "o", ս: "u", ո: "n", հ: "h", ց: "g",
  // Latin variants and small capitals
  ı: "i", ȷ: "j", ɑ: "a", ɩ: "i", ß: "ss", ø: "o", đ: "d", ł: "l", ħ: "h",
  ᴀ: "a", ʙ: "b", ᴄ: "c", ᴅ: "d", ᴇ: "e", ғ: "f", ɢ: "g", ʜ: "h", ɪ: "i", ᴊ: "j", ᴋ: "k", ʟ: "l", ᴍ: "m",
  ɴ: "n", ᴏ: "o", ᴘ: "p", ʀ: "r", ꜱ: "s", ᴛ: "t", ᴜ: "u", ᴠ: "v", ᴡ: "w", ʏ: "y", ᴢ: "z",
};

// Zero-width characters, bidi controls, soft hyphen, word joiners, BOM, variation selectors, tag characters.
const INVISIBLE = /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff]|[\u{e0000}-\u{e007f}]/gu;
const TAG_CHARACTERS = /[\u{e0020}-\u{e007e}]+/gu;
const NON_ASCII = /[^\x00-\x7f]/;
const COMBINING_MARKS = /\p{M}+/gu;
const CONFUSABLE_CHARS = new RegExp(`[${Object.keys(CONFUSABLES).join("")}]`, "gu");
const WHITESPACE = /\s+/g;

/**
 * A run of at least four single letters (or digits standing in for letters) with one kind of separator between
 * them: "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e". Word gaps inside the run ("a l l   p r e v") may be longer.
 */
const SPACED_RUN = /(?<![a-z0-9])[a-z0-9@$](?:(?:[ \t]{1,4}|[.\-_*|/·] ?)[a-z0-9@$](?![a-z0-9])){3,}/g;
const SPACED_GAP = /[ \t]{1,4}|[.\-_*|/·] ?/g;

const LEET_WORD = /[a-z0-9@$]*[a-z][a-z0-9@$]*/g;
const LEET_CHAR = /[0134579@$]/;
/** Cheap gate: a leet character touching a letter somewhere; plain numbers ("15% of 240") do not count. */
const LEET_MIXED = /[a-z][0134579@$]|[0134579@$][a-z]/;
const LEET_ONE_MIXED = /[a-z]1|1[a-z]/;
const LEET_MAP: Readonly<Record<string, string>> = { "0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "9": "g", "@": "a", $: "s" };
const LEET_CHARS = /[0134579@$]/g;

const BASE64_RUN = /[A-Za-z0-9+/_-]{16,}={0,2}/g;
/** A decoded run must be this printable to count as text, not a binary blob or a long identifier. */
const MIN_PRINTABLE_RATIO = 0.9;
const MAX_DECODED_VARIANTS = 16;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

export function normalizeForMatching(text: string): string[] {
  return variantsOf(text, 0);
}

function variantsOf(text: string, depth: number): string[] {
  const variants = new Set<string>();
  const folded = foldCharacters(text);
  variants.add(collapseWhitespace(folded));

  const joined = joinSpacedLetters(folded);
  if (joined !== folded) variants.add(collapseWhitespace(joined));

  for (const source of joined === folded ? [folded] : [folded, joined]) {
    if (!LEET_MIXED.test(source)) continue;
    variants.add(collapseWhitespace(undoLeetspeak(source, "i")));
    if (LEET_ONE_MIXED.test(source)) variants.add(collapseWhitespace(undoLeetspeak(source, "l")));
  }

  if (depth === 0) for (const hidden of hiddenTexts(text)) for (const variant of variantsOf(hidden, depth + 1)) variants.add(variant);
  return [...variants];
}

function foldCharacters(text: string): string {
  if (!NON_ASCII.test(text)) return text.toLowerCase();
  return text
    .replace(INVISIBLE, "")
    .normalize("NFKD")
    .replace(COMBINING_MARKS, "")
    .toLowerCase()
    .replace(CONFUSABLE_CHARS, (ch) => CONFUSABLES[ch] ?? ch);
}

const collapseWhitespace = (text: string) => text.replace(WHITESPACE, " ").trim();

function joinSpacedLetters(text: string): string {
  return text.replace(SPACED_RUN, (run) => {
    const gaps = run.match(SPACED_GAP) ?? [];
    const counts = new Map<string, number>();
    for (const gap of gaps) counts.set(gap, (counts.get(gap) ?? 0) + 1);
    // the commonest separator joins letters of one word; any other separator is a word gap
    let intraWord = "";
    let best = 0;
    for (const [gap, count] of counts)
      if (count > best) {
        intraWord = gap;
        best = count;
      }
    return run.replace(SPACED_GAP, (gap) => (gap === intraWord ? "" : " "));
  });
}

function undoLeetspeak(text: string, one: string): string {
  return text.replace(LEET_WORD, (word) =>
    LEET_CHAR.test(word) ? word.replace(LEET_CHARS, (ch) => (ch === "1" ? one : (LEET_MAP[ch] ?? ch))) : word,
  );
}

/** Text carried inside base64 runs and Unicode tag characters, decoded; at most MAX_DECODED_VARIANTS of them. */
function hiddenTexts(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(TAG_CHARACTERS)) {
    found.push(String.fromCharCode(...[...match[0]].map((ch) => ch.codePointAt(0)! - 0xe0000)));
    if (found.length >= MAX_DECODED_VARIANTS) return found;
  }
  for (const match of text.matchAll(BASE64_RUN)) {
    const decoded = decodeBase64Text(match[0]);
    if (decoded !== undefined) found.push(decoded);
    if (found.length >= MAX_DECODED_VARIANTS) break;
  }
  return found;
}

function decodeBase64Text(run: string): string | undefined {
  // a run without digits, "+" or "/" and without mixed case is almost certainly a word or an identifier
  if (!/[0-9+/=_-]/.test(run) && !(/[a-z]/.test(run) && /[A-Z]/.test(run))) return undefined;
  let decoded: string;
  try {
    decoded = UTF8.decode(Buffer.from(run, "base64"));
  } catch {
    return undefined;
  }
  if (decoded.length < 8) return undefined;
  let printable = 0;
  for (const ch of decoded) if (ch === "\n" || ch === "\t" || ch === "\r" || !/\p{C}/u.test(ch)) printable++;
  return printable / decoded.length >= MIN_PRINTABLE_RATIO ? decoded : undefined;
}
