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
 *   3. leetspeak undone inside words that mix letters with 0 1 3 4 5 7 9 @ $ (only when such words exist; a
 *      "1" gives two variants, one read as "i" and one as "l").
 *   4. for each base64 run that decodes to mostly printable UTF-8, and for text hidden in Unicode tag characters:
 *      that text, normalised the same way (one level of nesting).
 *
 * Decomposition plus mark stripping (rather than NFKC alone) also takes accents off: "précédentes" is matched
 * as "precedentes", so French, Spanish and German rules are written without accents.
 *
 * Cost: one char-code scan decides which of the regex passes are needed, so ordinary ASCII prose costs a
 * lower-casing and that scan (a few µs per KB); the Unicode, spaced-letter, leetspeak and base64 passes run
 * only on text that has something for them.
 */

/**
 * Look-alikes that NFKD leaves alone, folded before and again after lower-casing: before, so that Greek capital
 * "Ν" becomes "n" rather than lower-casing to "ν" (which looks like "v"); after, for capitals without an entry.
 */
const CONFUSABLES: Readonly<Record<string, string>> = {
  // capitals whose lower-case form looks like a different Latin letter
  Α: "a", Β: "b", Ε: "e", Ζ: "z", Η: "h", Ι: "i", Κ: "k", Μ: "m", Ν: "n", Ο: "o", Ρ: "p", Τ: "t", Υ: "y", Χ: "x",
  В: "b", Н: "h", М: "m", Т: "t", К: "k",
  // Cyrillic
  а: "a", в: "b", г: "r", е: "e", ё: "e", і: "i", ї: "i", ј: "j", к: "k", м: "m", н: "h",
  о: "o", п: "n", р: "p", с: "c", т: "t", у: "y", х: "x", ѕ: "s", ь: "b", һ: "h", ԁ: "d", ԛ: "q", ԝ: "w",
  ӏ: "l", ү: "y",
  // Greek
  α: "a", β: "b", γ: "y", δ: "d", ε: "e", η: "n", ι: "i", κ: "k", ν: "v", ο: "o", ρ: "p", σ: "o", ς: "s",
  τ: "t", υ: "u", χ: "x", ω: "w", μ: "u", ϲ: "c",
  // Armenian
  օ: "o", ս: "u", ո: "n", հ: "h", ց: "g",
  // Latin variants and small capitals
  ı: "i", ȷ: "j", ɑ: "a", ɡ: "g", ɩ: "i", ß: "ss", ø: "o", đ: "d", ł: "l", ħ: "h",
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
const LEET_ONE_MIXED = /[a-z]1|1[a-z]/;
const LEET_MAP: Readonly<Record<string, string>> = { "0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "9": "g", "@": "a", $: "s" };
const LEET_CHARS = /[0134579@$]/g;

const MIN_BASE64_RUN = 16;
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
  const found = scan(folded);
  const collapse = found.irregularWhitespace ? collapseWhitespace : (s: string) => s;
  variants.add(collapse(folded));

  const joined = found.spacedLetters ? joinSpacedLetters(folded) : folded;
  if (joined !== folded) variants.add(collapseWhitespace(joined));

  if (found.leetspeak)
    for (const source of joined === folded ? [folded] : [folded, joined]) {
      variants.add(collapseWhitespace(undoLeetspeak(source, "i")));
      if (LEET_ONE_MIXED.test(source)) variants.add(collapseWhitespace(undoLeetspeak(source, "l")));
    }

  // tag characters are U+E0020..E007E, all behind the high surrogate U+DB40
  if (depth === 0 && (found.base64Run || text.includes("\udb40")))
    for (const hidden of hiddenTexts(text)) for (const variant of variantsOf(hidden, depth + 1)) variants.add(variant);
  return [...variants];
}

interface ScanResult {
  irregularWhitespace: boolean;
  spacedLetters: boolean;
  leetspeak: boolean;
  base64Run: boolean;
}

// Character classes of ASCII codes for the scan, as bit flags.
const WORD = 1; // a-z 0-9 @ $: what SPACED_RUN treats as a letter
const LOWER = 2;
const LEET = 4;
const SEPARATOR = 8; // space, tab and the separators of SPACED_RUN
const BASE64 = 16; // case-folded base64 and base64url alphabet
const ASCII_CLASS = new Uint8Array(128);
for (let code = 97; code <= 122; code++) ASCII_CLASS[code] = WORD | LOWER | BASE64;
for (let code = 48; code <= 57; code++) ASCII_CLASS[code] = WORD | BASE64;
for (const ch of "0134579@$") ASCII_CLASS[ch.charCodeAt(0)]! |= WORD | LEET;
for (const ch of "+/-_") ASCII_CLASS[ch.charCodeAt(0)]! |= BASE64;
for (const ch of " \t.-_*|/") ASCII_CLASS[ch.charCodeAt(0)]! |= SEPARATOR;
const classOf = (code: number) => (code < 128 ? ASCII_CLASS[code]! : code === 0xb7 ? SEPARATOR : 0);
const isUnicodeSpace = (code: number) => code === 0x85 || code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x3000) || code === 0xfeff;

/** One pass over folded text: which of the costlier passes have anything to do. Over-reporting is harmless. */
function scan(folded: string): ScanResult {
  const length = folded.length;
  let irregularWhitespace = length > 0 && (folded.charCodeAt(0) <= 32 || folded.charCodeAt(length - 1) <= 32);
  let leetspeak = false;
  let base64Run = false;
  let spacedLetters = false;
  let base64Length = 0;
  let isolatedRun = 0;
  let gapLength = -1; // characters since the last isolated letter; -1 once a non-separator broke the run
  let previousCode = 0;
  let previousClass = 0;
  let nextCode = length > 0 ? folded.charCodeAt(0) : 0;
  let currentClass = classOf(nextCode);
  for (let i = 0; i < length; i++) {
    const code = nextCode;
    nextCode = i + 1 < length ? folded.charCodeAt(i + 1) : 0;
    const nextClass = classOf(nextCode);
    if (currentClass & previousClass & nextClass & LOWER) {
      // inside a word of plain letters, the common case: only the base64 run can change
      if (++base64Length >= MIN_BASE64_RUN) base64Run = true;
      if (gapLength >= 0) gapLength = -1;
      previousCode = code;
      previousClass = currentClass;
      currentClass = nextClass;
      continue;
    }
    if (code <= 32) {
      if (code !== 32 || previousCode === 32) irregularWhitespace = true;
    } else if (code > 127 && isUnicodeSpace(code)) irregularWhitespace = true;

    base64Length = currentClass & BASE64 ? base64Length + 1 : 0;
    if (base64Length >= MIN_BASE64_RUN) base64Run = true;
    if (currentClass & LEET && (previousClass & LOWER || nextClass & LOWER)) leetspeak = true;

    if (currentClass & WORD && !(previousClass & (LOWER | WORD)) && !(nextClass & (LOWER | WORD))) {
      // an isolated letter: it continues a run if only a few separators lie since the previous one
      isolatedRun = gapLength >= 1 && gapLength <= 5 ? isolatedRun + 1 : 1;
      if (isolatedRun >= 4) spacedLetters = true;
      gapLength = 0;
    } else if (gapLength >= 0) gapLength = currentClass & SEPARATOR ? gapLength + 1 : -1;

    previousCode = code;
    previousClass = currentClass;
    currentClass = nextClass;
  }
  return { irregularWhitespace, spacedLetters, leetspeak, base64Run };
}

function foldCharacters(text: string): string {
  if (!NON_ASCII.test(text)) return text.toLowerCase();
  return text
    .replace(INVISIBLE, "")
    .normalize("NFKD")
    .replace(COMBINING_MARKS, "")
    .replace(CONFUSABLE_CHARS, (ch) => CONFUSABLES[ch] ?? ch)
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

/** Longer tokens are identifiers, hashes or base64, not leetspeak words. */
const MAX_LEET_WORD = 24;

function undoLeetspeak(text: string, one: string): string {
  return text.replace(LEET_WORD, (word) =>
    word.length <= MAX_LEET_WORD && LEET_CHAR.test(word) ? word.replace(LEET_CHARS, (ch) => (ch === "1" ? one : (LEET_MAP[ch] ?? ch))) : word,
  );
}

/** Text carried inside base64 runs and Unicode tag characters, decoded; at most MAX_DECODED_VARIANTS of them. */
function hiddenTexts(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(TAG_CHARACTERS)) {
    let decoded = "";
    for (const ch of match[0]) decoded += String.fromCharCode(ch.codePointAt(0)! - 0xe0000);
    found.push(decoded);
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
