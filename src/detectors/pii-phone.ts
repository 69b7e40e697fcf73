/**
 * Phone numbers for `findPii`: candidates from one bounded regex (a digit, then at most 30 digits and phone
 * separators, then an optional extension), then a decision in three steps —
 *   1. shapes that are something else are dropped: dates, year ranges, thousands, IPs and versions, ISBNs,
 *      SSN-shaped 3-2-4 groups, amounts and numbers after "order", "invoice", "#";
 *   2. the number must be *possible* (right length for its country, libphonenumber's "max" metadata) with its
 *      own + / 00 prefix, or in one of the likely regions — the language's first, then the regions most text
 *      is written in. Possible, not valid: fictional 555 numbers and unassigned area codes are PII-shaped too;
 *   3. a number without a phone word shortly before it ("call", "Tel.", "Handy", "téléphone", "móvil") must have
 *      a phone's shape: a + / 00 prefix, "(415) 555-2671", NANP 3-3-4 groups, a trunk 0 with groups
 *      ("030 1234567", "06 12 34 56 78"), or Spanish / Italian / Brazilian mobile groups. Unbroken runs of
 *      digits are ids far more often than phones, so they need the phone word (or a leading trunk 0 and a valid
 *      number).
 */
import type * as PhoneLib from "libphonenumber-js/max";
import type { CountryCode, PhoneNumber } from "libphonenumber-js/max";
import type { PiiMatch } from "./pii.ts";

// Loaded on first use, not at start-up: its metadata stays resident in every gateway process (together with the
// browser tool's HTML parser, ~6 MiB of an idle gateway), and only PII screening needs it.
let phoneLib: typeof PhoneLib | undefined;
const parsePhoneNumberFromString: typeof PhoneLib.parsePhoneNumberFromString = (...args) => (phoneLib ??= require("libphonenumber-js/max") as typeof PhoneLib).parsePhoneNumberFromString(...args);

const LANGUAGE_REGIONS: Record<string, CountryCode> = {
  en: "US",
  de: "DE",
  fr: "FR",
  es: "ES",
  it: "IT",
  nl: "NL",
  pt: "BR",
  pl: "PL",
  sv: "SE",
  da: "DK",
};
/** Tried after the language's region, in this order; the first region where the number is possible names it. */
const LIKELY_REGIONS: readonly CountryCode[] = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "AT", "CH", "BE", "PT", "IN", "AU", "PL", "SE", "DK", "NO", "IE", "MX"];

/** "de-AT" → AT, "fr" → FR, "xx" or "" → none. */
export function defaultRegion(language: string): CountryCode | undefined {
  const [primary = "", region] = language.toLowerCase().split(/[-_]/);
  if (region && /^[a-z]{2}$/.test(region)) return region.toUpperCase() as CountryCode;
  return LANGUAGE_REGIONS[primary];
}

/**
 * A digit (or "+", "(") then up to 30 digits and separators, ending in a digit, then maybe an extension. Starts
 * only where no letter, digit or "+" precedes, and the body is bounded, so a scan is linear in the text.
 */
const PHONE_CANDIDATE =
  /(?<![\p{L}\p{N}_+]|[\p{L}\p{N}][-.\/])(?:\+[ \u00a0]?|\()?\d[\d \u00a0().\/–-]{4,30}\d(?:[ \u00a0]*(?:,[ \u00a0]*)?(?:ext\.?|extension|x|#|Durchwahl|DW|poste|int\.?)[ \u00a0]*\d{1,6})?(?![\p{L}\p{N}_])/giu;
const EXTENSION = /[ \u00a0]*(?:,[ \u00a0]*)?(?:ext\.?|extension|x|#|Durchwahl|DW|poste|int\.?)[ \u00a0]*\d{1,6}$/iu;
const PHONE_MIN_DIGITS = 7;
const PHONE_MAX_DIGITS = 15;

const PHONE_WORD =
  /(?:\b(?:tel|tél|phone|telephone|call|calling|cell|cellphone|mobile|mob|fax|sms|text|texting|whatsapp|signal|dial|ring|hotline|reach|contact|number|nummer|numéro|numero|número|ruf|rufen?|anrufen|telefon|telefonisch|handy|mobil|mobilnummer|festnetz|erreichbar|appel|appelez|appelle[rz]?|portable|joignable|téléphone|ll[aá]m\w*|teléfono|telefono|móvil|movil|celular|cellulare|chiam\w*|bellen|bel|telefoon|mobiel|liga|ligue|ligar|telefone|contato|telem[oó]vel|atende|whats|numer|zadzwo\w*|dzwo\w*|kom[oó]rk\w*|puhelin|soita|tlf|tfn|telf)\w*|☎|📞)[^\d\n]{0,24}$/iu;
/** What is written right before ids, amounts and references rather than phones. */
const NOT_A_PHONE_BEFORE =
  /(?:[#№$€£¥]|(?<![\p{L}\p{N}])(?:order|invoice|ref|reference|id|ticket|case|tracking|account|acct|customer|serial|model|part|item|sku|isbn|issn|doi|zip|postal|postcode|plz|pin|otp|code|version|ver|v|build|release|rechnung|bestell|bestellung|kunden|konto|auftrag|vorgang|artikel|commande|facture|référence|dossier|pedido|factura|referencia|cuenta|ordine|fattura|bestelling|factuur|fatura|aktenzeichen|geschäftszeichen|ärende|ärendenummer|expediente|pratica|protocolo|processo|sagsnummer|saksnummer|zgłoszenia|zamówienia|faktury|policy|polizza|póliza|apólice|polis|booking|reservation|buchung|réservation|reserva|prenotazione|confirmation|bestätigung|matricule|tracciamento|sendung|spedizione|sprawy|sprawa)(?:s|n|es)?(?:-?(?:nummer|nr|no|number|id|code))?\.?(?:\s*(?:nr|no|n°|num|number|nummer|numéro|número|numero|id))?\.?(?:\s+(?:is|was|lautet|ist|est|es|è|é))?\s*[:#=]?)\s*$/iu;
/** "No. 4155552671" is a phone only after a phone word ("Tel. No."). */
const NUMBER_SIGN_BEFORE = /\b(?:no|nr|n°|num)\.?\s*[:#]?\s*$/iu;
const NOT_A_PHONE_AFTER = /^\s?(?:[$€£¥%°]|(?:eur|usd|gbp|chf|euro|euros|dollars?|units?|pcs|stück|unités|unidades|kg|km|mb|gb|ms|px)\b)/iu;
const DATE_LIKE = /^(?:\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4})$/;
const YEAR_RANGE = /^(?:1[89]|20)\d\d\s*[-–\/]\s*(?:(?:1[89]|20)\d\d|\d\d)$/;
/** "1 234 567" or "12.345.678": thousands separators. */
const THOUSANDS_LIKE = /^\d{1,3}(?:[ .,\u00a0]\d{3})+$/;
const DOTTED = /^\d{1,3}(?:\.\d{1,3}){2,}$/;
const ISBN_LIKE = /^97[89][- ]?\d/;
const SSN_LIKE = /^\d{3}-\d{2}-\d{4}$/;

/** Shapes a phone is written in, checked on the number without its extension. */
const NANP = /^(?:\+?1[ .\/-]?)?(?:\(\d{3}\)[ .\/-]?|\d{3}[ .\/-])\d{3}[ .\/-]\d{4}$/;
const TRUNK_GROUPED = /^\(?0[1-9]\d{0,4}\)?(?:(?:[ .\/-]| - )\d{1,8}){1,5}$/;
const TRUNK_UNBROKEN = /^0[1-9]\d{8,10}$/;
const SOUTHERN_MOBILE = /^(?:[6789]\d{2}(?:[ .-]\d{2,3}){2,3}|3\d{2}[ .-]\d{3,4}[ .-]?\d{0,4}|\(\d{2}\)[ .-]?9?\d{4}-\d{4})$/;

export function findPhones(text: string, language: string, found: PiiMatch[]): void {
  const region = defaultRegion(language);
  for (const m of text.matchAll(PHONE_CANDIDATE)) {
    for (const [offset, part] of pieces(m[0])) {
      const start = m.index + offset;
      const end = start + part.length;
      const country = phoneCountry(text, start, end, region);
      if (country !== undefined) found.push({ kind: "phone", start, end, value: part, ...(country ? { detail: country } : {}) });
    }
  }
}

/** A candidate can hold two numbers written "a / b" or "a  b"; each piece is judged on its own. */
function pieces(candidate: string): [number, string][] {
  const out: [number, string][] = [];
  let from = 0;
  for (const sep of candidate.matchAll(/[ \u00a0]+\/[ \u00a0]+|[ \u00a0]{2,}/g)) {
    out.push([from, candidate.slice(from, sep.index)]);
    from = sep.index + sep[0].length;
  }
  out.push([from, candidate.slice(from)]);
  return out.map(([offset, part]) => {
    const trimmed = part.replace(/[ \u00a0.\/–(-]+$/u, "");
    return [offset, trimmed] as [number, string];
  });
}

/** The region the number at [start, end) belongs to ("" when its prefix names none), or undefined: not a phone. */
function phoneCountry(text: string, start: number, end: number, region: CountryCode | undefined): string | undefined {
  const raw = text.slice(start, end);
  const number = raw.replace(EXTENSION, "");
  const digits = number.replace(/\D/g, "");
  if (digits.length < PHONE_MIN_DIGITS || digits.length > PHONE_MAX_DIGITS + 2) return undefined;
  const before = text.slice(Math.max(0, start - 40), start);
  if (NOT_A_PHONE_BEFORE.test(before.slice(-28)) || NOT_A_PHONE_AFTER.test(text.slice(end, end + 8))) return undefined;
  const international = /^(?:\+|00[1-9])/.test(number);
  if (international) {
    // "+44 (0)20 …": the trunk 0 in parentheses is not dialled from abroad.
    const dialled = number.replace("(0)", "").replace(/\D/g, "").replace(/^00/, "");
    const best = parsePhoneNumberFromString("+" + dialled);
    return best?.isPossible() ? (best.country ?? "") : undefined;
  }
  if (DATE_LIKE.test(number) || YEAR_RANGE.test(number)) return undefined;
  if (ISBN_LIKE.test(number) && digits.length === 13) return undefined;
  const context = PHONE_WORD.test(before);
  if (!context) {
    // "961 204 558" is an amount in thousands, or a Portuguese or Polish mobile after "Tel."
    if (THOUSANDS_LIKE.test(number)) return undefined;
    if (DOTTED.test(number)) return undefined;
    if (NUMBER_SIGN_BEFORE.test(before)) return undefined;
    if (SSN_LIKE.test(number)) return undefined;
    const shaped = NANP.test(number) || TRUNK_GROUPED.test(number) || SOUTHERN_MOBILE.test(number) || TRUNK_UNBROKEN.test(number);
    if (!shaped) return undefined;
  }
  // The language's region if the number is valid there, else the first region where it is valid and grouped
  // as written, else possible and grouped as written (555 numbers, unassigned area codes; NANP's area code and
  // exchange not starting with 0 or 1), else valid, else possible.
  const candidates = region ? [region, ...LIKELY_REGIONS.filter((r) => r !== region)] : LIKELY_REGIONS;
  // "06 12 34 56 78" is valid in Germany and France; the region whose own format groups it as written wins.
  // "555-0199": a seven-digit local number, possible only with an area code; with a phone word it is one.
  if (context && /^\d{3}[ .-]\d{4}$/.test(number)) return region ?? "US";
  let valid: string | undefined;
  let possible: string | undefined;
  let possibleAsWritten: string | undefined;
  const grouping = groupsOf(number);
  for (const country of candidates) {
    const parsed = parsePhoneNumberFromString(number, country);
    if (!parsed?.isPossible() || !trunkAsWritten(parsed, digits)) continue;
    if (parsed.isValid()) {
      if (country === region || groupsOf(parsed.formatNational()) === grouping) return parsed.country ?? country;
      valid ??= parsed.country ?? country;
      continue;
    }
    if (possibleAsWritten !== undefined || (!context && TRUNK_UNBROKEN.test(number))) continue;
    if (parsed.countryCallingCode === "1" && !/^[2-9]\d\d[2-9]/.test(parsed.nationalNumber)) continue;
    possible ??= country;
    if (grouping.includes(" ") && groupsOf(parsed.formatNational()) === grouping) possibleAsWritten = country;
  }
  // Grouped as the region writes it beats valid elsewhere: "(555) 555-0199" is a fictional US number, not Italian.
  return possibleAsWritten ?? valid ?? possible;
}

/** "(030) 123-45" → "3 3 2": the lengths of the digit groups. */
const groupsOf = (written: string): string => written.split(/\D+/).filter(Boolean).map((g) => g.length).join(" ");

/** Where the national format has a trunk 0 ("06 12 …", "030 …") people write it; without it, it is not that country's. */
function trunkAsWritten(number: PhoneNumber, digits: string): boolean {
  const national = number.formatNational().replace(/\D/g, "");
  return !national.startsWith("0") || digits.startsWith("0");
}
