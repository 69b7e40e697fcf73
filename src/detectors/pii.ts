/**
 * PII detectors shared by the `redact` and `pii_guard` processors: one pass per kind over the text, candidates
 * from linear regexes (every pattern either has bounded quantifiers or cannot start inside a token, so no input
 * makes them backtrack quadratically), then a real check where one exists — Luhn for cards, mod 97 for IBANs
 * (ibantools), the national ids' own check digits, libphonenumber's "max" metadata for phones, `node:net` for
 * IPs. Names are the one heuristic kind: honorifics and self-introductions in en/de/fr/es, plus compromise's
 * English named-entity tagger, loaded on first use because it costs ~200 ms to load and most of the time.
 *
 * Matched values are returned to the caller and never logged here.
 */
import { isIPv4, isIPv6 } from "node:net";
import { isValidIBAN } from "ibantools";
import { findPeople } from "./pii-person.ts";
import { findPhones } from "./pii-phone.ts";

export const PII_KINDS = ["email", "phone", "credit_card", "iban", "ip_address", "national_id", "person"] as const;
export type PiiKind = (typeof PII_KINDS)[number];

export interface PiiMatch {
  kind: PiiKind;
  start: number;
  end: number;
  value: string;
  /** e.g. "US SSN", "DE Steuer-ID", "IPv6" */
  detail?: string;
}

export interface PiiOptions {
  kinds?: readonly PiiKind[];
  /** "en" | "de" | "fr" | "es" | ...; helps phone region and name heuristics */
  language?: string;
}

/** When two candidates overlap and are equally long, the earlier kind here wins: a checksum beats a heuristic. */
const SPECIFICITY: readonly PiiKind[] = ["national_id", "iban", "credit_card", "email", "ip_address", "phone", "person"];

/** All PII found in `text`, sorted by start, non-overlapping (when two overlap keep the longer / more specific one). */
export function findPii(text: string, options: PiiOptions = {}): PiiMatch[] {
  const kinds = new Set(options.kinds ?? PII_KINDS);
  const language = (options.language ?? "").toLowerCase();
  const found: PiiMatch[] = [];
  if (kinds.has("email")) findEmails(text, found);
  if (kinds.has("phone")) findPhones(text, language, found);
  if (kinds.has("credit_card")) findCards(text, found);
  if (kinds.has("iban")) findIbans(text, found);
  if (kinds.has("ip_address")) findIps(text, found);
  if (kinds.has("national_id")) findNationalIds(text, found);
  if (kinds.has("person")) findPeople(text, language, found);
  return resolveOverlaps(found, text.length);
}

function resolveOverlaps(found: PiiMatch[], textLength: number): PiiMatch[] {
  if (found.length < 2) return found;
  const ranked = [...found].sort(
    (a, b) =>
      b.end - b.start - (a.end - a.start) ||
      SPECIFICITY.indexOf(a.kind) - SPECIFICITY.indexOf(b.kind) ||
      a.start - b.start,
  );
  const taken = new Uint8Array(textLength);
  const kept: PiiMatch[] = [];
  for (const match of ranked) {
    if (taken.subarray(match.start, match.end).includes(1)) continue;
    taken.fill(1, match.start, match.end);
    kept.push(match);
  }
  return kept.sort((a, b) => a.start - b.start);
}

function push(found: PiiMatch[], kind: PiiKind, text: string, start: number, end: number, detail?: string): void {
  const match: PiiMatch = { kind, start, end, value: text.slice(start, end) };
  if (detail !== undefined) match.detail = detail;
  found.push(match);
}

const digitsOf = (value: string): string => value.replace(/\D/g, "");

// ---- email -------------------------------------------------------------------------------------------------

/** The local part cannot start inside a run of local-part characters, and every part is length-bounded. */
const EMAIL =
  /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]{1,64}@(?:[\p{L}\p{N}-]{1,63}\.){1,8}\p{L}{2,63}(?![\p{L}\p{N}_-])/gu;

function findEmails(text: string, found: PiiMatch[]): void {
  for (const m of text.matchAll(EMAIL)) push(found, "email", text, m.index, m.index + m[0].length);
}

// ---- credit card -------------------------------------------------------------------------------------------

/** Runs of digit groups separated by one space or dash; cards are looked for at group boundaries inside. */
const DIGIT_RUN = /(?<![\p{L}\p{N}.,])\d+(?:[ -]\d+)*/gu;

/** Card words in the languages we know; after one, a mistyped (Luhn-failing) number in a card's shape still counts. */
const CARD_WORD =
  /\b(?:card|credit|debit|visa|master\s?card|amex|american express|discover|maestro|cc|pan|karte|kreditkarte|carte|cb|tarjeta|carta|kaart|creditcard|cartão|cartao)\b[^\d\n]{0,24}$/iu;

function findCards(text: string, found: PiiMatch[]): void {
  for (const m of text.matchAll(DIGIT_RUN)) {
    const groups = [...m[0].matchAll(/\d+/g)];
    const afterCardWord = CARD_WORD.test(text.slice(Math.max(0, m.index - 40), m.index));
    for (let first = 0; first < groups.length; ) {
      const end = cardEndingAt(groups, first, afterCardWord);
      if (end === undefined) {
        first++;
        continue;
      }
      const start = m.index + groups[first]!.index;
      const stop = m.index + groups[end]!.index + groups[end]![0].length;
      push(found, "credit_card", text, start, stop, cardBrand(digitsOf(text.slice(start, stop))));
      first = end + 1;
    }
  }
}

/**
 * The last group of the longest card starting at group `first`: 13–19 digits in groups of 4–6 (bar the last),
 * Luhn-valid — or, after a card word, 15 or 16 digits written as one run or as 4-4-4-4 / 4-6-5 (a typo).
 */
function cardEndingAt(groups: readonly RegExpExecArray[], first: number, afterCardWord: boolean): number | undefined {
  let digits = "";
  let best: number | undefined;
  for (let i = first; i < groups.length; i++) {
    const group = groups[i]![0];
    digits += group;
    if (digits.length > 19) break;
    const count = i - first + 1;
    const cardShaped = (digits.length === 16 && (count === 1 || count === 4)) || (digits.length === 15 && (count === 1 || count === 3));
    if (digits.length >= 13 && CARD_IIN.test(digits) && (luhnValid(digits) || (afterCardWord && cardShaped))) best = i;
    if (group.length < 4 || group.length > 6) break;
  }
  return best;
}

/** Issuers start with 2–6; JCB's old 15-digit ranges with 1800 and 2131. */
const CARD_IIN = /^(?:[2-6]|1800)/;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

function cardBrand(digits: string): string | undefined {
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  if (digits[0] === "4") return "Visa";
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return "Mastercard";
  if (two === 34 || two === 37) return "American Express";
  if (two === 35 || four === 1800 || four === 2131) return "JCB";
  if (two === 36 || two === 30 || two === 38) return "Diners Club";
  if (four === 6011 || two === 65 || (four >= 6440 && four <= 6499)) return "Discover";
  return undefined;
}

// ---- IBAN --------------------------------------------------------------------------------------------------

const IBAN_CANDIDATE = /(?<![\p{L}\p{N}])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\p{L}\p{N}])/giu;
const IBAN_MIN_LENGTH = 15;

/** The candidate may have swallowed a following four-letter word ("… 7034 Euro"): drop trailing chunks until valid. */
function findIbans(text: string, found: PiiMatch[]): void {
  for (const m of text.matchAll(IBAN_CANDIDATE)) {
    let candidate = m[0];
    while (candidate.replace(/ /g, "").length >= IBAN_MIN_LENGTH) {
      const iban = candidate.replace(/ /g, "").toUpperCase();
      if (isValidIBAN(iban)) {
        push(found, "iban", text, m.index, m.index + candidate.length, iban.slice(0, 2));
        break;
      }
      const lastSpace = candidate.lastIndexOf(" ");
      if (lastSpace < 0) break;
      candidate = candidate.slice(0, lastSpace);
    }
  }
}

// ---- IP address --------------------------------------------------------------------------------------------

/** Not preceded or followed by more dotted numbers, so "1.2.3.4.5" and "v1.2.3.4" are not addresses. */
const IPV4 = /(?<![\p{L}\p{N}_.])(?:\d{1,3}\.){3}\d{1,3}(?![\p{L}\p{N}_]|\.\d)/gu;
const VERSION_BEFORE = /\b(?:v|version|ver|release|build|rev)\.?\s*$/i;
/** Starts only at the start of a hex run, so a long hex run costs one scan. */
const IPV6_CANDIDATE = /(?<![0-9A-Fa-f])[0-9A-Fa-f]*::?[0-9A-Fa-f:.]*/g;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

function findIps(text: string, found: PiiMatch[]): void {
  for (const m of text.matchAll(IPV4)) {
    if (!isIPv4(m[0]) || VERSION_BEFORE.test(text.slice(Math.max(0, m.index - 12), m.index))) continue;
    push(found, "ip_address", text, m.index, m.index + m[0].length, "IPv4");
  }
  for (const m of text.matchAll(IPV6_CANDIDATE)) {
    let start = m.index;
    let candidate = m[0];
    // "ip:fe80::1" — the label's colon is not part of the address.
    if (candidate.startsWith(":") && !candidate.startsWith("::")) (start += 1), (candidate = candidate.slice(1));
    candidate = candidate.replace(/\.+$/, "").replace(/(?<!:):$/, "");
    const end = start + candidate.length;
    if (WORD_CHAR.test(text[start - 1] ?? "") || WORD_CHAR.test(text[end] ?? "")) continue;
    // "a::b" and "::" are code, not addresses; real ones carry a digit somewhere.
    if (!/\d/.test(candidate) || !isIPv6(candidate)) continue;
    push(found, "ip_address", text, start, end, "IPv6");
  }
}

// ---- national ids ------------------------------------------------------------------------------------------

const SSN = /(?<![\p{L}\p{N}-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\p{L}\p{N}]|-\d)/gu;
const STEUER_ID = /(?<![\p{L}\p{N}.,])[1-9]\d ?\d{3} ?\d{3} ?\d{3}(?![\p{L}\p{N}]|[.,]\d)/gu;
/** sex, year, month, department (2A/2B for Corsica), commune, order, key — single spaces allowed anywhere. */
const NIR = /(?<![\p{L}\p{N}])[1-478](?: ?\d){5} ?[\dAB](?: ?\d){8}(?![\p{L}\p{N}])/gu;
const DNI_NIE = /(?<![\p{L}\p{N}])([XYZ][ -]?\d{7}|\d{8})[ -]?([A-Z])(?![\p{L}\p{N}])/gu;
const DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE";
const CODICE_FISCALE = /(?<![\p{L}\p{N}])[A-Z]{6}[\dLMNPQRSTUV]{2}[ABCDEHLMPRST][\dLMNPQRSTUV]{2}[A-Z][\dLMNPQRSTUV]{3}[A-Z](?![\p{L}\p{N}])/gu;

function findNationalIds(text: string, found: PiiMatch[]): void {
  const check = (re: RegExp, detail: string, valid: (match: RegExpExecArray) => boolean) => {
    for (const m of text.matchAll(re)) if (valid(m)) push(found, "national_id", text, m.index, m.index + m[0].length, detail);
  };
  check(SSN, "US SSN", (m) => ssnValid(m[1]!, m[3]!, m[4]!));
  check(STEUER_ID, "DE Steuer-ID", (m) => steuerIdValid(digitsOf(m[0])));
  check(NIR, "FR NIR", (m) => nirValid(m[0].replace(/ /g, "")));
  for (const m of text.matchAll(DNI_NIE)) {
    const isNie = /^[XYZ]/.test(m[1]!);
    const number = Number(digitsOf(isNie ? "XYZ".indexOf(m[1]![0]!) + m[1]! : m[1]!));
    if (DNI_LETTERS[number % 23] === m[2]) push(found, "national_id", text, m.index, m.index + m[0].length, isNie ? "ES NIE" : "ES DNI");
  }
  check(CODICE_FISCALE, "IT codice fiscale", (m) => codiceFiscaleValid(m[0]));
}

/** Never issued: area 000, 666 or 9xx; group 00; serial 0000. */
export function ssnValid(area: string, group: string, serial: string): boolean {
  return area !== "000" && area !== "666" && area[0] !== "9" && group !== "00" && serial !== "0000";
}

/**
 * ISO 7064 MOD 11,10 check digit, and in the first ten digits exactly one digit occurs twice or three times
 * (three times never all adjacent), every other digit at most once.
 */
export function steuerIdValid(digits: string): boolean {
  if (!/^[1-9]\d{10}$/.test(digits)) return false;
  const counts = new Array<number>(10).fill(0);
  for (const c of digits.slice(0, 10)) counts[Number(c)]!++;
  const repeated = counts.filter((n) => n > 1);
  if (repeated.length !== 1 || repeated[0]! > 3) return false;
  if (repeated[0] === 3 && /(\d)\1\1/.test(digits.slice(0, 10))) return false;
  let product = 10;
  for (const c of digits.slice(0, 10)) {
    const sum = (Number(c) + product) % 10 || 10;
    product = (sum * 2) % 11;
  }
  return (11 - product) % 10 === Number(digits[10]);
}

/** Key = 97 − (first 13 digits mod 97), with Corsica's 2A/2B counted as 19/18. */
export function nirValid(nir: string): boolean {
  const month = Number(nir.slice(3, 5));
  if (!((month >= 1 && month <= 12) || (month >= 20 && month <= 42) || month >= 50)) return false;
  const department = nir.slice(5, 7);
  if (/[AB]/.test(department) && department[0] !== "2") return false;
  const body = nir.slice(0, 5) + (department === "2A" ? "19" : department === "2B" ? "18" : department) + nir.slice(7, 13);
  return 97 - (Number(body) % 97) === Number(nir.slice(13, 15));
}

const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

export function codiceFiscaleValid(code: string): boolean {
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = code.charCodeAt(i);
    const value = c <= 57 ? c - 48 : c - 65; // digits and letters share values 0–9 (A = 0 … J = 9)
    sum += i % 2 === 0 ? CF_ODD[value]! : value;
  }
  return String.fromCharCode(65 + (sum % 26)) === code[15];
}
