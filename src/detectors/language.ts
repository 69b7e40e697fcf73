// A small language guesser for the firewall's `languages` rule: counts the most frequent function words of en, de,
// fr and es. Good enough to tell a paragraph's language; short or mixed texts give no answer (and are let through).

const STOPWORDS: Record<string, readonly string[]> = {
  en: "the and is are was were to of in that it for with on this you what how be have not can do".split(" "),
  de: "der die das und ist sind nicht ich du wir sie es mit auf für ein eine zu von den dem wie was".split(" "),
  fr: "le la les et est sont ne pas je tu nous vous il elle un une des du de pour avec que qui dans".split(" "),
  es: "el la los las y es son no yo tú nosotros un una unos de del para con que qué en por como".split(" "),
};
const WORD = /\p{L}+/gu;
const MIN_HITS = 3;

export const GUESSABLE_LANGUAGES = Object.keys(STOPWORDS);

/** The likeliest of en/de/fr/es, or undefined when the text is too short or too mixed to tell. */
export function guessLanguage(text: string): string | undefined {
  const counts: Record<string, number> = {};
  for (const [word] of text.toLowerCase().slice(0, 5_000).matchAll(WORD)) {
    for (const language of GUESSABLE_LANGUAGES) if (STOPWORDS[language]!.includes(word)) counts[language] = (counts[language] ?? 0) + 1;
  }
  const ranked = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const [best, second] = ranked;
  if (!best || best[1] < MIN_HITS || (second && second[1] * 1.5 > best[1])) return undefined;
  return best[0];
}
