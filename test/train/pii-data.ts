/**
 * Seeded generator of labelled PII sentences for tuning (`split: "train"`) and measuring (`split: "dev"`) the PII
 * detector: faker's locale data (en_US, en_GB, de, fr, es, it, nl, pt_BR) fills sentence templates written for
 * sluice — phones in the formats people write them, names in varied positions, cards with separators, emails,
 * IBANs — and texts with no PII at all but things that look like it (dates, prices, order ids, versions, company
 * addresses, product names, capitalised everyday words, maths). Nothing is stored: the same seed gives the same
 * texts. `bun test/train/pii-data.ts [train|dev] [n]` prints a sample.
 */
import { allFakers, type Faker } from "@faker-js/faker";
import { isValidIBAN } from "ibantools";
import type { PiiKind } from "../../src/detectors/pii.ts";

export interface LabelledSpan {
  kind: PiiKind;
  start: number;
  end: number;
}
export interface LabelledText {
  text: string;
  /** The BCP 47-ish language the text is written in: "en", "de", … */
  language: string;
  locale: LocaleId;
  spans: LabelledSpan[];
}

export const LOCALES = ["en_US", "en_GB", "de", "fr", "es", "it", "nl", "pt_BR"] as const;
export type LocaleId = (typeof LOCALES)[number];
type Lang = "en" | "de" | "fr" | "es" | "it" | "nl" | "pt";
const LANG: Record<LocaleId, Lang> = { en_US: "en", en_GB: "en", de: "de", fr: "fr", es: "es", it: "it", nl: "nl", pt_BR: "pt" };
/** The US has no IBANs; its people are given German ones (a common case: an expat's account). */
const IBAN_COUNTRY: Record<LocaleId, string> = { en_US: "DE", en_GB: "GB", de: "DE", fr: "FR", es: "ES", it: "IT", nl: "NL", pt_BR: "BR" };
const CALLING_CODE: Record<LocaleId, string> = { en_US: "1", en_GB: "44", de: "49", fr: "33", es: "34", it: "39", nl: "31", pt_BR: "55" };

/** Slots: {name} full name, {first}, {last}, {titled} title + surname, {phone}, {card}, {email}, {iban}. */
const PII_TEMPLATES: Record<Lang, string[]> = {
  en: [
    "Please call me at {phone} after 5pm.",
    "You can reach {name} on {phone}.",
    "My number is {phone}, text me anytime.",
    "{name} will join the meeting on Thursday.",
    "I spoke with {titled} yesterday about the contract.",
    "Hi {first}, could you send me the report?",
    "Thanks for your help!\n\nBest regards,\n{name}",
    "My name is {name} and I need to change my booking.",
    "Forward the invoice to {name} ({email}).",
    "Charge it to my card {card}, expiry 09/28.",
    "Card: {card}",
    "Please refund {card} — the order was cancelled.",
    "Send the money to {iban} by Friday.",
    "Contact: {name}, {phone}, {email}",
    "The new hire, {name}, starts in March.",
    "Tel. {phone} / Fax {phone}",
    "Is {first} available for a call at {phone}?",
    "{phone}",
    "Ask {titled} whether the visa 4111 test card works.",
    "Our driver {name} said he would be there by noon.",
    "ok so {first} {last} told me the password reset link expired",
    "Emergency contact: {name} {phone}",
  ],
  de: [
    "Bitte rufen Sie mich unter {phone} an.",
    "Meine Handynummer ist {phone}.",
    "{name} kommt morgen um 10 Uhr ins Büro.",
    "Ich habe gestern mit {titled} telefoniert.",
    "Hallo {first}, kannst du mir die Unterlagen schicken?",
    "Viele Grüße\n{name}",
    "Ich heiße {name} und möchte meinen Vertrag kündigen.",
    "Bitte buchen Sie den Betrag von meiner Karte {card} ab.",
    "Überweisen Sie bitte auf {iban}.",
    "Ansprechpartner: {name}, Tel. {phone}, {email}",
    "Frag mal {first}, der weiß das.",
    "Erreichbar unter {phone} oder per Mail an {email}.",
    "{phone}",
    "Die Rechnung geht an {name}, nicht an mich.",
  ],
  fr: [
    "Appelez-moi au {phone} demain matin.",
    "Mon numéro de téléphone est le {phone}.",
    "{name} sera présent à la réunion.",
    "J'ai parlé avec {titled} hier soir.",
    "Bonjour {first}, peux-tu m'envoyer le dossier ?",
    "Cordialement,\n{name}",
    "Je m'appelle {name} et j'ai un problème avec ma commande.",
    "Débitez ma carte {card} s'il vous plaît.",
    "Virement sur le compte {iban}.",
    "Contact : {name} — {phone} — {email}",
    "Tu peux joindre {first} au {phone}.",
    "{phone}",
  ],
  es: [
    "Llámame al {phone} esta tarde.",
    "Mi teléfono es {phone}.",
    "{name} llega mañana a las nueve.",
    "Hablé con {titled} sobre el presupuesto.",
    "Hola {first}, ¿me mandas el informe?",
    "Saludos,\n{name}",
    "Me llamo {name} y quiero cambiar mi reserva.",
    "Cárguelo a mi tarjeta {card}.",
    "Transfiera el importe a {iban}.",
    "Contacto: {name}, {phone}, {email}",
    "Pregúntale a {first}, que sabe del tema.",
    "{phone}",
  ],
  it: [
    "Chiamami al {phone} dopo pranzo.",
    "Il mio numero è {phone}.",
    "{name} arriva domani in ufficio.",
    "Ho parlato con {titled} del contratto.",
    "Ciao {first}, mi mandi il file?",
    "Cordiali saluti,\n{name}",
    "Mi chiamo {name} e vorrei disdire l'abbonamento.",
    "Addebitate la mia carta {card}.",
    "Bonifico su {iban}, grazie.",
    "Referente: {name}, {phone}, {email}",
    "{phone}",
  ],
  nl: [
    "Bel me op {phone} na vijf uur.",
    "Mijn telefoonnummer is {phone}.",
    "{name} komt morgen langs.",
    "Ik heb met {titled} gesproken.",
    "Hoi {first}, kun je het rapport sturen?",
    "Met vriendelijke groet,\n{name}",
    "Mijn naam is {name} en ik wil mijn abonnement opzeggen.",
    "Schrijf het af van mijn kaart {card}.",
    "Maak het over naar {iban}.",
    "Contactpersoon: {name}, {phone}, {email}",
    "{phone}",
  ],
  pt: [
    "Me liga no {phone} mais tarde.",
    "Meu telefone é {phone}.",
    "{name} chega amanhã cedo.",
    "Falei com {titled} sobre o orçamento.",
    "Oi {first}, pode me mandar o relatório?",
    "Atenciosamente,\n{name}",
    "Meu nome é {name} e quero cancelar o pedido.",
    "Pode cobrar no meu cartão {card}.",
    "Transfira para {iban}.",
    "Contato: {name}, {phone}, {email}",
    "{phone}",
  ],
};

/** No PII, but numbers, capitals and names of things that look like it. Slots filled by `distractor()`. */
const CLEAN_TEMPLATES: Record<Lang, string[]> = {
  en: [
    "The meeting moved to {date} at {time}.",
    "Order {order} was shipped on {date}.",
    "The total is {price} including VAT.",
    "Upgrade to version {version} before {date}.",
    "{company} is located at {street}, {city}.",
    "The {product} costs {price} and ships in 3-5 days.",
    "Will the build pass if we bump the dependency to {version}?",
    "May I ask why the deadline changed?",
    "Mark the ticket as resolved and close it.",
    "Solve x^2 + {small}x - {small} = 0 for x.",
    "Compute {big} * {small} and round to two decimals.",
    "Revenue grew from {big} to {big} between 2019-2023.",
    "ISBN 978-3-16-148410-0 is out of print.",
    "Tracking number {order}, expected delivery {date}.",
    "The population of {city} was about {thousands} in 2020.",
    "Rose gold and Amber are the new colours of the {product}.",
    "In {year} the company opened an office in {city}.",
    "Invoice {order} of {date}: {price}.",
    "Run the migration at {time} UTC on {date}.",
    "Grace period ends on {date}; after that {price} applies.",
    "Summer sale: {product} for {price} until {date}.",
    "Please summarise chapter {small} of the handbook.",
    "Translate 'good morning' into French and Spanish.",
    "The coordinates are {coord}.",
    "Set the timeout to {big} ms and retry {small} times.",
    "Reference {order} — please quote it in all correspondence.",
    "Customer Service is open Monday to Friday, 9:00-17:30.",
  ],
  de: [
    "Der Termin ist am {date} um {time} Uhr.",
    "Bestellung {order} wurde am {date} verschickt.",
    "Der Gesamtbetrag beträgt {price}.",
    "{company} sitzt in der {street}, {city}.",
    "Bitte aktualisieren Sie auf Version {version}.",
    "Rechnung Nr. {order} vom {date} über {price}.",
    "Wie viel ist {big} geteilt durch {small}?",
    "Der {product} ist ab {date} wieder lieferbar.",
    "Im Jahr {year} hatte {city} rund {thousands} Einwohner.",
    "Fassen Sie Kapitel {small} des Handbuchs zusammen.",
  ],
  fr: [
    "La réunion est prévue le {date} à {time}.",
    "La commande {order} a été expédiée le {date}.",
    "Le montant total est de {price}.",
    "{company} est situé au {street}, {city}.",
    "Mettez à jour vers la version {version}.",
    "Facture n° {order} du {date} : {price}.",
    "Combien font {big} fois {small} ?",
    "En {year}, {city} comptait environ {thousands} habitants.",
  ],
  es: [
    "La reunión es el {date} a las {time}.",
    "El pedido {order} salió el {date}.",
    "El importe total es {price}.",
    "{company} está en {street}, {city}.",
    "Actualice a la versión {version}.",
    "Factura {order} del {date}: {price}.",
    "¿Cuánto es {big} entre {small}?",
    "En {year} {city} tenía unos {thousands} habitantes.",
  ],
  it: [
    "La riunione è il {date} alle {time}.",
    "L'ordine {order} è partito il {date}.",
    "Il totale è {price}.",
    "{company} ha sede in {street}, {city}.",
    "Aggiorna alla versione {version}.",
    "Fattura {order} del {date}: {price}.",
  ],
  nl: [
    "De vergadering is op {date} om {time}.",
    "Bestelling {order} is op {date} verzonden.",
    "Het totaalbedrag is {price}.",
    "{company} zit aan de {street}, {city}.",
    "Update naar versie {version}.",
    "Factuur {order} van {date}: {price}.",
  ],
  pt: [
    "A reunião é dia {date} às {time}.",
    "O pedido {order} saiu em {date}.",
    "O valor total é {price}.",
    "{company} fica na {street}, {city}.",
    "Atualize para a versão {version}.",
    "Fatura {order} de {date}: {price}.",
  ],
};

const TITLES: Record<Lang, string[]> = {
  en: ["Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Mr", "Ms"],
  de: ["Herr", "Frau", "Herrn", "Dr.", "Prof. Dr."],
  fr: ["M.", "Mme", "Madame", "Monsieur", "Dr"],
  es: ["Sr.", "Sra.", "Don", "Doña", "Dr."],
  it: ["Sig.", "Sig.ra", "Dott.", "Signora"],
  nl: ["Dhr.", "Mevr.", "Dr."],
  pt: ["Sr.", "Sra.", "Dr.", "Dra."],
};

const TEST_CARDS = ["4111111111111111", "4242424242424242", "5555555555554444", "5105105105105100", "378282246310005", "6011111111111117", "3530111333300000", "4000056655665556"];

/** A phone number the way people in this locale write it: national, international, other separators, extension. */
function phone(f: Faker, locale: LocaleId): string {
  const r = f.number.int(99);
  let national = locale === "it" ? f.helpers.fromRegExp(/(3[0-9]{2} [0-9]{3} [0-9]{4}|0[2-6] [0-9]{4} [0-9]{4})/) : f.phone.number({ style: "national" });
  if (locale === "en_US" && r < 12) national = `(${f.helpers.arrayElement(["555", "212", "415", "646"])}) 555-01${f.string.numeric(2)}`;
  const digits = national.replace(/\D/g, "");
  const cc = CALLING_CODE[locale];
  let out: string;
  if (r < 35) out = national;
  else if (r < 55) {
    const rest = locale === "it" ? national : national.replace(/^\(?0/, "").replace(/^\)/, "").replace(/^\((\d+)\)/, "$1");
    out = `+${cc} ${rest.replace(/[()]/g, "").trim()}`;
  } else if (r < 62) out = `00${cc} ${digits.replace(/^0/, "")}`;
  else if (r < 68 && ["en_GB", "de", "nl"].includes(locale)) out = `+${cc} (0)${digits.slice(1, 4)} ${digits.slice(4)}`;
  else if (r < 80) out = national.replace(/[ ]/g, f.helpers.arrayElement(["-", ".", "/", " "]));
  else if (r < 86) out = digits;
  else if (locale === "en_US") out = f.helpers.arrayElement([`1-${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`, `${digits.slice(0, 3)}.${digits.slice(3, 6)}.${digits.slice(6)}`, `+1 (${digits.slice(0, 3)}) ${digits.slice(3, 6)}-${digits.slice(6)}`]);
  else out = national;
  if (f.number.int(9) === 0) out += f.helpers.arrayElement([" ext. " + f.string.numeric(2), " x" + f.string.numeric(3), " ext " + f.string.numeric(1), " Durchwahl 12"].slice(0, locale === "de" ? 4 : 3));
  return out;
}

/** faker's French and Spanish IBANs fail their national check digits, so the valid ones are kept (or a known one). */
function iban(f: Faker, country: string): string {
  const formatted = f.datatype.boolean();
  for (let i = 0; i < 30; i++) {
    const candidate = f.finance.iban({ formatted, countryCode: country });
    if (isValidIBAN(candidate.replace(/ /g, ""))) return candidate;
  }
  return formatted ? "DE89 3704 0044 0532 0130 00" : "DE89370400440532013000";
}

function card(f: Faker): string {
  const digits = f.number.int(3) === 0 ? f.helpers.arrayElement(TEST_CARDS) : f.finance.creditCardNumber().replace(/\D/g, "");
  const sep = f.helpers.arrayElement([" ", "-", "", " "]);
  if (sep === "") return digits;
  const groups = digits.length === 15 ? [4, 6, 5] : digits.length === 14 ? [4, 6, 4] : [4, 4, 4, 4, 3].slice(0, Math.ceil(digits.length / 4));
  const parts: string[] = [];
  let at = 0;
  for (const g of groups) if (at < digits.length) parts.push(digits.slice(at, (at += g)));
  return parts.join(sep);
}

function distractor(f: Faker, slot: string, lang: Lang): string {
  const d = f.date.between({ from: "2015-01-01", to: "2027-12-31" });
  const [y, m, day] = [d.getFullYear(), String(d.getMonth() + 1).padStart(2, "0"), String(d.getDate()).padStart(2, "0")];
  switch (slot) {
    case "date":
      return f.helpers.arrayElement(lang === "en" ? [`${y}-${m}-${day}`, `${m}/${day}/${y}`, `${day} ${f.date.month()} ${y}`] : [`${day}.${m}.${y}`, `${day}/${m}/${y}`, `${y}-${m}-${day}`]);
    case "time":
      return `${f.number.int({ min: 7, max: 20 })}:${f.helpers.arrayElement(["00", "15", "30", "45"])}`;
    case "order":
      return f.helpers.arrayElement([`#${f.string.numeric(8)}`, `A-${y}-${f.string.numeric(5)}`, f.string.numeric(10), `${f.string.alpha({ length: 2, casing: "upper" })}${f.string.numeric(9)}`, `${y}${f.string.numeric(6)}`]);
    case "price":
      return f.helpers.arrayElement([`$${f.commerce.price()}`, `€${f.number.int(9999)},${f.string.numeric(2)}`, `${f.number.int(999)}.${f.string.numeric(3)},00 €`, `£${f.number.int(99)}.99`, `${f.commerce.price()} EUR`]);
    case "version":
      return f.system.semver();
    case "company":
      return f.company.name();
    case "street":
      return f.location.streetAddress();
    case "city":
      return f.location.city();
    case "product":
      return f.commerce.productName();
    case "small":
      return String(f.number.int({ min: 2, max: 99 }));
    case "big":
      return String(f.number.int({ min: 1000, max: 9_999_999 }));
    case "thousands":
      return f.number.int({ min: 10_000, max: 9_000_000 }).toLocaleString(lang === "en" ? "en-US" : "de-DE");
    case "year":
      return String(f.number.int({ min: 1950, max: 2025 }));
    case "coord":
      return `${f.location.latitude()}, ${f.location.longitude()}`;
    default:
      throw new Error(`no distractor for {${slot}}`);
  }
}

function fill(template: string, values: (slot: string) => [string, PiiKind | undefined]): { text: string; spans: LabelledSpan[] } {
  let text = "";
  const spans: LabelledSpan[] = [];
  let copied = 0;
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    text += template.slice(copied, m.index);
    const [value, kind] = values(m[1]!);
    if (kind) spans.push({ kind, start: text.length, end: text.length + value.length });
    text += value;
    copied = m.index + m[0].length;
  }
  return { text: text + template.slice(copied), spans };
}

/** `n` labelled texts; about one in three has no PII. Deterministic in (split, n). */
export function generatePiiTexts(split: "train" | "dev", n: number): LabelledText[] {
  const seed = split === "train" ? 1 : 2;
  const out: LabelledText[] = [];
  for (let i = 0; i < n; i++) {
    const locale = LOCALES[i % LOCALES.length]!;
    const lang = LANG[locale];
    const f = allFakers[locale];
    f.seed(seed * 1_000_003 + i);
    const clean = f.number.int(2) === 0;
    const template = f.helpers.arrayElement(clean ? CLEAN_TEMPLATES[lang] : PII_TEMPLATES[lang]);
    const first = f.person.firstName();
    const last = f.person.lastName();
    const { text, spans } = fill(template, (slot) => {
      switch (slot) {
        case "name":
          return [f.number.int(4) === 0 ? f.person.fullName() : `${first} ${last}`, "person"];
        case "first":
          return [first, "person"];
        case "last":
          return [last, "person"];
        case "titled":
          return [`${f.helpers.arrayElement(TITLES[lang])} ${f.number.int(2) === 0 ? first + " " : ""}${last}`, "person"];
        case "phone":
          return [phone(f, locale), "phone"];
        case "card":
          return [card(f), "credit_card"];
        case "email":
          return [f.internet.email({ firstName: first, lastName: last }), "email"];
        case "iban":
          return [iban(f, IBAN_COUNTRY[locale]!), "iban"];
        default:
          return [distractor(f, slot, lang), undefined];
      }
    });
    // A titled name's span is the name, not the title (the detector masks the name and keeps "Dr.").
    for (const span of spans) {
      const title = /^(?:(?:Mr|Mrs|Ms|Dr|Dra|Prof|Herr|Herrn|Frau|M|Mme|Madame|Monsieur|Sr|Sra|Don|Doña|Sig|Sig\.ra|Dott|Signora|Dhr|Mevr)\.?\s+)+/.exec(text.slice(span.start, span.end));
      if (span.kind === "person" && title) span.start += title[0].length;
    }
    // "{first} {last}" is one name.
    for (let s = spans.length - 1; s > 0; s--) {
      const [a, b] = [spans[s - 1]!, spans[s]!];
      if (a.kind === "person" && b.kind === "person" && b.start - a.end === 1) (a.end = b.end), spans.splice(s, 1);
    }
    out.push({ text, language: lang, locale, spans });
  }
  return out;
}

if (import.meta.main) {
  const split = (process.argv[2] ?? "train") as "train" | "dev";
  for (const t of generatePiiTexts(split, Number(process.argv[3] ?? 24)))
    console.log(`${t.locale}\t${JSON.stringify(t.text)}\t${t.spans.map((s) => `${s.kind}:${t.text.slice(s.start, s.end)}`).join(" | ")}`);
}
