import { describe, expect, test } from "bun:test";
import { correctSpelling, isSpellLanguage, SPELLCHECK_LANGUAGES, type Correction, type SpellLanguage } from "../../src/detectors/spellcheck.ts";

// The first call per language builds its dictionary (up to ~5 s for French), so every test that corrects text gets room.
const LOAD_TIMEOUT_MS = 30_000;

interface LanguageCase {
  typos: string;
  corrected: string;
  corrections: Correction[];
  correct: string;
}

// One shared suite over every language: sentences whose first Hunspell suggestion is the right fix.
const CASES: Record<SpellLanguage, LanguageCase> = {
  en: {
    typos: "I beleive we will recieve the package tomorow.",
    corrected: "I believe we will receive the package tomorrow.",
    corrections: [
      { from: "beleive", to: "believe", offset: 2 },
      { from: "recieve", to: "receive", offset: 18 },
      { from: "tomorow", to: "tomorrow", offset: 38 },
    ],
    correct: "The invoice arrived yesterday and everything looks fine, thank you.",
  },
  de: {
    typos: "Ich habe die Rechnug gestern bekommen und bin sehr zufriden mit der Wohnug.",
    corrected: "Ich habe die Rechnung gestern bekommen und bin sehr zufrieden mit der Wohnung.",
    corrections: [
      { from: "Rechnug", to: "Rechnung", offset: 13 },
      { from: "zufriden", to: "zufrieden", offset: 51 },
      { from: "Wohnug", to: "Wohnung", offset: 68 },
    ],
    correct: "Die Rechnung ist gestern angekommen und alles sieht gut aus, vielen Dank.",
  },
  fr: {
    typos: "Je voudrais reserver une chambre d'hotel pour demian.",
    corrected: "Je voudrais réserver une chambre d'hôtel pour demain.",
    corrections: [
      { from: "reserver", to: "réserver", offset: 12 },
      { from: "d'hotel", to: "d'hôtel", offset: 33 },
      { from: "demian", to: "demain", offset: 46 },
    ],
    correct: "La facture est arrivée hier et tout semble correct, merci beaucoup.",
  },
  es: {
    typos: "Nesecito reservar una habitacion para mañana, grasias.",
    corrected: "Necesito reservar una habitación para mañana, gracias.",
    corrections: [
      { from: "Nesecito", to: "Necesito", offset: 0 },
      { from: "habitacion", to: "habitación", offset: 22 },
      { from: "grasias", to: "gracias", offset: 46 },
    ],
    correct: "La factura llegó ayer y todo parece estar bien, muchas gracias.",
  },
};

// First in the file, so that French is loaded here for the first time when this file runs alone. In a full `bun test`
// run another file may have loaded it already (files share one module registry), so the text also carries 60 typos no
// other test uses: suggesting for them keeps the worker busy for a few hundred ms even with the dictionary loaded.
describe("correctSpelling off the main thread", () => {
  test(
    "the event loop keeps turning while French loads and a long text is corrected",
    async () => {
      const words = ["voudrais", "réserver", "chambre", "demain", "matin", "petit", "déjeuner", "compris", "merci", "réponse"];
      const text = Array.from({ length: 60 }, (_, i) => {
        const word = words[i % words.length]!;
        const at = 1 + ((i * 7) % (word.length - 1));
        return `${word} ${word.slice(0, at)}${"bcdfghjklmnpqrstvxz"[(i * 13) % 19]}${word.slice(at)}`;
      }).join(" ");
      let ticks = 0;
      const interval = setInterval(() => ticks++, 10);
      const answer = correctSpelling(text, "fr"); // not awaited: the timer must fire while the worker is busy
      try {
        expect((await answer).corrections.length).toBeGreaterThan(0);
      } finally {
        clearInterval(interval);
      }
      expect(ticks).toBeGreaterThanOrEqual(5);
    },
    LOAD_TIMEOUT_MS,
  );
});

describe.each(SPELLCHECK_LANGUAGES)("correctSpelling (%s)", (language) => {
  const { typos, corrected, corrections, correct } = CASES[language];

  test(
    "fixes typical typos and reports each one",
    async () => {
      expect(await correctSpelling(typos, language)).toEqual({ text: corrected, corrections });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "leaves correct text alone",
    async () => {
      expect(await correctSpelling(correct, language)).toEqual({ text: correct, corrections: [] });
      expect(await correctSpelling(corrected, language)).toEqual({ text: corrected, corrections: [] });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "gives the same answer from the suggestion cache",
    async () => {
      expect(await correctSpelling(typos, language)).toEqual({ text: corrected, corrections });
    },
    LOAD_TIMEOUT_MS,
  );
});

describe("correctSpelling: what is never touched", () => {
  test(
    "code spans, fenced code, URLs, emails, paths and handles",
    async () => {
      const text = [
        "Call `recieve()` and see https://exmaple.com/recieve?tomorow=1 or www.recieve.com.",
        "```",
        "const tomorow = recieve(teh);",
        "```",
        "Write to jon.recieve@exmaple.com, @recieve or #tomorow, and open src/recieve/tomorow.ts.",
      ].join("\n");
      expect(await correctSpelling(text, "en")).toEqual({ text, corrections: [] });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "numbers, words with digits, acronyms, identifiers and very short tokens",
    async () => {
      const text = "Order 12345 of recieve2 went to NASA and the RECIEVE team via iPhone and snake_case_word, ok?";
      expect(await correctSpelling(text, "en")).toEqual({ text, corrections: [] });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "capitalized names in mid-sentence outside German",
    async () => {
      const text = "Yesterday we deployed Kubernetes with Tomorow and Recieve in Montpellier.";
      expect(await correctSpelling(text, "en")).toEqual({ text, corrections: [] });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "hyphenated words whose parts are known",
    async () => {
      const text = "A well-known co-worker sent an E-mail.";
      expect(await correctSpelling(text, "en")).toEqual({ text, corrections: [] });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "text in another language than the one asked for",
    async () => {
      const text = "Last week I ordered a new laptop because my old one had become very slow, and it arrived damaged.";
      expect(await correctSpelling(text, "de")).toEqual({ text, corrections: [] });
    },
    LOAD_TIMEOUT_MS,
  );
});

describe("correctSpelling: casing and language details", () => {
  test(
    "a capitalized typo gets a capitalized fix",
    async () => {
      expect(await correctSpelling("Recieve it tomorow.", "en")).toEqual({
        text: "Receive it tomorrow.",
        corrections: [
          { from: "Recieve", to: "Receive", offset: 0 },
          { from: "tomorow", to: "tomorrow", offset: 11 },
        ],
      });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "German: capitalization is not a typo, and compounds and E-Mail are known",
    async () => {
      const text = "Wiederholen Sie bitte die Bestellung, die Sendungsverfolgung und die E-Mail an die Lieferadresse, ich kann sie nicht wiederholen.";
      expect(await correctSpelling(text, "de")).toEqual({ text, corrections: [] });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "French: an accent-only fix wins and the typographic apostrophe is kept",
    async () => {
      expect(await correctSpelling("J’ai recu la clé de l’hotel.", "fr")).toEqual({
        text: "J’ai reçu la clé de l’hôtel.",
        corrections: [
          { from: "recu", to: "reçu", offset: 5 },
          { from: "l’hotel", to: "l’hôtel", offset: 20 },
        ],
      });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "Spanish: a sentence opened by ¿ or ¡ keeps its capital",
    async () => {
      expect(await correctSpelling("¿Dónde está el restorante? ¡Habitacion doble!", "es")).toEqual({
        text: "¿Dónde está el restaurante? ¡Habitación doble!",
        corrections: [
          { from: "restorante", to: "restaurante", offset: 15 },
          { from: "Habitacion", to: "Habitación", offset: 28 },
        ],
      });
    },
    LOAD_TIMEOUT_MS,
  );

  test(
    "at most 200 misspelled words are corrected per text",
    async () => {
      const text = "they recieve ".repeat(250).trim();
      const result = await correctSpelling(text, "en");
      expect(result.corrections).toHaveLength(200);
      expect(result.corrections[199]).toEqual({ from: "recieve", to: "receive", offset: 199 * 13 + 5 });
      expect(result.text).toBe(`${"they receive ".repeat(200)}${"they recieve ".repeat(50)}`.trim());
    },
    LOAD_TIMEOUT_MS,
  );
});

describe("isSpellLanguage", () => {
  test("accepts the supported languages only", () => {
    for (const language of SPELLCHECK_LANGUAGES) expect(isSpellLanguage(language)).toBe(true);
    for (const other of ["it", "EN", "en-US", "", undefined, null, 1, ["en"]]) expect(isSpellLanguage(other)).toBe(false);
  });
});

describe("the spellcheck worker", () => {
  test(
    "a worker that dies fails its pending calls with a clear error and the next call starts a new one",
    async () => {
      type StartedWorker = { terminate(): unknown };
      const started: StartedWorker[] = [];
      let firstStarted!: (worker: StartedWorker) => void;
      const first = new Promise<StartedWorker>((resolve) => (firstStarted = resolve));
      const onWorker = (worker: StartedWorker) => {
        started.push(worker);
        firstStarted(worker);
      };
      process.on("worker", onWorker);
      try {
        // A fresh instance of the module (a path with a query makes one; a file: URL's query is ignored) has no worker
        // yet, so the one it starts is seen here.
        const fresh: typeof import("../../src/detectors/spellcheck.ts") = await import(
          `${import.meta.dir}/../../src/detectors/spellcheck.ts?restart`
        );
        const lost = fresh.correctSpelling("I beleive it.", "en");
        (await first).terminate();
        await expect(lost).rejects.toThrow("the spellcheck worker exited");
        expect(await fresh.correctSpelling("I beleive it.", "en")).toEqual({
          text: "I believe it.",
          corrections: [{ from: "beleive", to: "believe", offset: 2 }],
        });
        expect(started).toHaveLength(2);
      } finally {
        process.off("worker", onWorker);
      }
    },
    LOAD_TIMEOUT_MS,
  );
});
