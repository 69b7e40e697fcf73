import { describe, expect, test } from "bun:test";
import {
  codiceFiscaleValid,
  findPii,
  luhnValid,
  nirValid,
  PII_KINDS,
  ssnValid,
  steuerIdValid,
  type PiiKind,
  type PiiMatch,
} from "../../src/detectors/pii.ts";

/** One expected match: its kind, the exact text it covers (found once in the sentence), and its detail. */
type Expected = [kind: PiiKind, value: string, detail?: string];
interface Case {
  text: string;
  language?: string;
  expect: Expected[];
}

function expected(text: string, matches: Expected[]): PiiMatch[] {
  return matches.map(([kind, value, detail]) => {
    const start = text.indexOf(value);
    if (start < 0 || text.indexOf(value, start + 1) >= 0) throw new Error(`"${value}" must occur once in the sentence`);
    return { kind, start, end: start + value.length, value, ...(detail === undefined ? {} : { detail }) };
  });
}

/** The whole result is compared, so a stray match elsewhere in the sentence fails the case too. */
function runCases(cases: Case[]): void {
  for (const c of cases)
    test(`${c.language ?? "--"}: ${c.text}`, () => {
      expect(findPii(c.text, { language: c.language })).toEqual(expected(c.text, c.expect));
    });
}

const kindsIn = (text: string, language?: string): PiiKind[] => findPii(text, { language }).map((m) => m.kind);

describe("email", () => {
  runCases([
    { text: "Write to jane.doe+billing@example.co.uk if anything changes.", language: "en", expect: [["email", "jane.doe+billing@example.co.uk"]] },
    { text: "Schreiben Sie an max.mustermann@beispiel.de.", language: "de", expect: [["email", "max.mustermann@beispiel.de"]] },
    { text: "Mon adresse est élodie.martin@exemple.fr, merci.", language: "fr", expect: [["email", "élodie.martin@exemple.fr"]] },
    { text: "Escríbeme a lucia_gomez@correo.es por favor", language: "es", expect: [["email", "lucia_gomez@correo.es"]] },
  ]);

  test("not addresses", () => {
    for (const text of ["a@b", "@example.com", "foo@bar", "user@localhost", "see a @ b . com"]) expect(findPii(text)).toEqual([]);
  });
});

describe("phone", () => {
  runCases([
    { text: "Call me at +1 415 555 2671", language: "en", expect: [["phone", "+1 415 555 2671", "US"]] },
    { text: "My cell is (415) 555-2671.", language: "en", expect: [["phone", "(415) 555-2671", "US"]] },
    {
      text: "Ruf mich an unter 030 1234567 oder +49 30 901820",
      language: "de",
      expect: [["phone", "030 1234567", "DE"], ["phone", "+49 30 901820", "DE"]],
    },
    { text: "Appelez-moi au 06 12 34 56 78", language: "fr", expect: [["phone", "06 12 34 56 78", "FR"]] },
    { text: "Llámame al 612 34 56 78 esta tarde", language: "es", expect: [["phone", "612 34 56 78", "ES"]] },
    { text: "Mobil: 0049 151 23456789", language: "de", expect: [["phone", "0049 151 23456789", "DE"]] },
    { text: "Joignable au +33 6 12 34 56 78 même sans langue", expect: [["phone", "+33 6 12 34 56 78", "FR"]] },
    { text: "call me, 4155552671", language: "en", expect: [["phone", "4155552671", "US"]] },
    // after a phone word, three groups of three are a Portuguese or Polish mobile, not thousands
    { text: "Telemóvel: 912 345 678", expect: [["phone", "912 345 678", "PT"]] },
    { text: "Zadzwoń do mnie: 601 234 567", language: "pl", expect: [["phone", "601 234 567", "PL"]] },
    { text: "Praktijk: 030 - 231 88 40", language: "nl", expect: [["phone", "030 - 231 88 40", "NL"]] },
  ]);

  test("without a language, national numbers are tried in the likely regions", () => {
    expect(findPii("Appelez-moi au 06 12 34 56 78")).toEqual(expected("Appelez-moi au 06 12 34 56 78", [["phone", "06 12 34 56 78", "FR"]]));
    expect(findPii("Appelez-moi au 06 12 34 56 78", { language: "fr-FR" })).toHaveLength(1);
  });

  test("years, amounts, dates and order numbers are not phones", () => {
    const cases: [string, string][] = [
      ["in 2024 we sold 1,234,567 units", "en"],
      ["Order #12345678", "en"],
      ["Order #4155552671 has shipped", "en"],
      ["reference 4155552671", "en"],
      ["The reference number is 4839201948.", "en"],
      ["Your order number is 5551234567.", "en"],
      ["Die Rechnungsnummer lautet 0301234567.", "de"],
      ["Rechnung Nr. 2024001234 vom 15.01.2024", "de"],
      ["Termin am 2024-01-15 um 12:30", "de"],
      ["Der Umsatz lag bei 1.234.567 Stück", "de"],
      ["Le prix est de 1 234 567 EUR", "fr"],
      ["Kundennummer 123456789", "fr"],
      ["Ärendenummer 08-441 92 70", "sv"],
      ["Numer sprawy: 22 514 77 30", "pl"],
      ["Número de expediente: 915 22 48 73", "es"],
      ["between 1990 and 2024", "en"],
      ["the server at 192.168.10.24", "en"],
    ];
    for (const [text, language] of cases) expect(findPii(text, { kinds: ["phone"], language })).toEqual([]);
  });

  test("a French-format number without its trunk 0 is not a phone", () => {
    expect(findPii("code 666-12-3456", { kinds: ["phone"], language: "fr" })).toEqual([]);
  });
});

describe("phone: formats, regions, fictional numbers and extensions", () => {
  runCases([
    { text: "Phone: (555) 555-0199 ext. 42", expect: [["phone", "(555) 555-0199 ext. 42", "US"]] },
    { text: "reach me on +1 (415) 555-2671 x123 today", expect: [["phone", "+1 (415) 555-2671 x123", "US"]] },
    { text: "Office 1-800-555-0100, ask for billing", language: "en", expect: [["phone", "1-800-555-0100", "US"]] },
    { text: "dial 415.555.2671 now", expect: [["phone", "415.555.2671", "US"]] },
    { text: "Call 555-0123 for details.", language: "en", expect: [["phone", "555-0123", "US"]] },
    { text: "Ring the London office on 020 7946 0958.", language: "en-GB", expect: [["phone", "020 7946 0958", "GB"]] },
    { text: "From abroad: +44 (0)20 7946 0958", expect: [["phone", "+44 (0)20 7946 0958", "GB"]] },
    { text: "Tel.: 030/1234567", language: "de", expect: [["phone", "030/1234567", "DE"]] },
    { text: "Handy 0171 1234567", expect: [["phone", "0171 1234567", "DE"]] },
    { text: "téléphone : 01.23.45.67.89", language: "fr", expect: [["phone", "01.23.45.67.89", "FR"]] },
    { text: "móvil 612-345-678", language: "es", expect: [["phone", "612-345-678", "ES"]] },
    { text: "Chiamami al 347 123 4567", language: "it", expect: [["phone", "347 123 4567", "IT"]] },
    { text: "Bel me op 06 12345678", language: "nl", expect: [["phone", "06 12345678", "NL"]] },
    { text: "Me liga no (11) 91234-5678", language: "pt-BR", expect: [["phone", "(11) 91234-5678", "BR"]] },
    { text: "Tel. 030 1234567 / Fax 030 1234568", language: "de", expect: [["phone", "030 1234567", "DE"], ["phone", "030 1234568", "DE"]] },
  ]);

  test("dates, times, prices, ids, versions, IPs, ISBNs and year ranges are not phones, in any language", () => {
    for (const language of [undefined, "en", "de", "fr", "es", "it", "nl", "pt"])
      for (const text of [
        "Order 2024-001234 placed 2024-01-15 for $1,299.00",
        "Tracking number A-2020-42817, expected 09/30/2022",
        "Version 10.2.3.4 released",
        "ISBN 978-3-16-148410-0",
        "revenue from 1990-2024",
        "It costs 1 299,00 € or 12.999 Euro",
        "Meeting at 14:30, room 4.12",
        "Compute 123456 * 7890",
        "Combien font 9740293 fois 31 ?",
        "population 8 336 817 in 2019",
        "Invoice no. 0123456789",
        "coordinates 48.85661, 2.35222",
      ])
        expect(findPii(text, { kinds: ["phone"], language })).toEqual([]);
  });
});

describe("credit_card", () => {
  runCases([
    { text: "Card number 4111 1111 1111 1111, exp 12/27", language: "en", expect: [["credit_card", "4111 1111 1111 1111", "Visa"]] },
    { text: "Kreditkarte: 5555-5555-5555-4444 bitte belasten", language: "de", expect: [["credit_card", "5555-5555-5555-4444", "Mastercard"]] },
    { text: "Ma carte 378282246310005 expire bientôt", language: "fr", expect: [["credit_card", "378282246310005", "American Express"]] },
    { text: "Mi tarjeta es 6011 1111 1111 1117.", language: "es", expect: [["credit_card", "6011 1111 1111 1117", "Discover"]] },
  ]);

  test("failing Luhn, implausible IIN or odd grouping is not a card", () => {
    for (const text of [
      "4111 1111 1111 1112",
      "4111111111111112",
      "tracking 1234567812345670", // Luhn-valid, but no card starts with 1
      "1 85 05 78 006 084 91 41", // 17 digits in phone-like pairs
      "41111111111111110000", // 20 digits
    ])
      expect(findPii(text, { kinds: ["credit_card"] })).toEqual([]);
  });

  runCases([
    { text: "Amex 3782 822463 10005 please", expect: [["credit_card", "3782 822463 10005", "American Express"]] },
    { text: "test card 4242-4242-4242-4242 works", expect: [["credit_card", "4242-4242-4242-4242", "Visa"]] },
    { text: "Diners 3056-930902-5904", expect: [["credit_card", "3056-930902-5904", "Diners Club"]] },
  ]);

  test("after a card word, a 16-digit number in card shape counts even when Luhn fails (a typo is still a card)", () => {
    expect(findPii("visa 4111 1111 1111 1112", { kinds: ["credit_card"] })).toHaveLength(1);
    expect(findPii("tarjeta 5555-5555-5555-4445", { kinds: ["credit_card"] })).toHaveLength(1);
    expect(findPii("ticket 4111 1111 1111 1112", { kinds: ["credit_card"] })).toEqual([]);
  });

  test("a card inside a longer run of groups is found at group boundaries", () => {
    const text = "ref 2024 4111 1111 1111 1111";
    expect(findPii(text, { kinds: ["credit_card"] })).toEqual(expected(text, [["credit_card", "4111 1111 1111 1111", "Visa"]]));
  });
});

describe("iban", () => {
  runCases([
    {
      text: "Meine IBAN ist DE89 3704 0044 0532 0130 00, bitte überweisen",
      language: "de",
      expect: [["iban", "DE89 3704 0044 0532 0130 00", "DE"]],
    },
    { text: "Please pay to GB82WEST12345698765432 today.", language: "en", expect: [["iban", "GB82WEST12345698765432", "GB"]] },
    { text: "IBAN : FR14 2004 1010 0505 0001 3M02 606", language: "fr", expect: [["iban", "FR14 2004 1010 0505 0001 3M02 606", "FR"]] },
    { text: "Cuenta ES91 2100 0418 4502 0005 1332.", language: "es", expect: [["iban", "ES91 2100 0418 4502 0005 1332", "ES"]] },
    { text: "lowercase de89370400440532013000 works", language: "en", expect: [["iban", "de89370400440532013000", "DE"]] },
    { text: "Konto BE68 5390 0754 7034 Euro", language: "de", expect: [["iban", "BE68 5390 0754 7034", "BE"]] },
  ]);

  test("a wrong check digit is not an IBAN", () => {
    expect(findPii("Meine IBAN ist DE88 3704 0044 0532 0130 00", { kinds: ["iban"] })).toEqual([]);
    expect(findPii("GB83WEST12345698765432", { kinds: ["iban"] })).toEqual([]);
  });
});

describe("ip_address", () => {
  runCases([
    { text: "The server at 192.168.1.1 refused the connection", language: "en", expect: [["ip_address", "192.168.1.1", "IPv4"]] },
    { text: "ssh auf 10.0.0.1:22 geht nicht", language: "de", expect: [["ip_address", "10.0.0.1", "IPv4"]] },
    { text: "Zugriff von 2001:db8::8a2e:370:7334 blockiert.", language: "de", expect: [["ip_address", "2001:db8::8a2e:370:7334", "IPv6"]] },
    { text: "l'adresse [fe80::1]:8080 est locale", language: "fr", expect: [["ip_address", "fe80::1", "IPv6"]] },
    { text: "IP: 203.0.113.7.", language: "es", expect: [["ip_address", "203.0.113.7", "IPv4"]] },
    { text: "mapped ::ffff:192.168.1.1 here", language: "en", expect: [["ip_address", "::ffff:192.168.1.1", "IPv6"]] },
  ]);

  test("versions, dotted numbers and code are not addresses", () => {
    for (const text of [
      "version 1.2.3",
      "version 1.2.3.4",
      "v1.2.3.4",
      "1.2.3.4.5",
      "256.1.1.1",
      "std::vector<int> and a::b",
      "at 12:30:45",
      "MAC 00:1A:2B:3C:4D:5E",
    ])
      expect(findPii(text, { kinds: ["ip_address"] })).toEqual([]);
  });
});

describe("national_id", () => {
  runCases([
    { text: "My SSN is 123-45-6789.", language: "en", expect: [["national_id", "123-45-6789", "US SSN"]] },
    { text: "Meine Steuer-ID lautet 86 095 742 719.", language: "de", expect: [["national_id", "86 095 742 719", "DE Steuer-ID"]] },
    { text: "Steuer-ID: 86095742719", language: "de", expect: [["national_id", "86095742719", "DE Steuer-ID"]] },
    { text: "Mon numéro de sécu est 1 85 05 78 006 084 91", language: "fr", expect: [["national_id", "1 85 05 78 006 084 91", "FR NIR"]] },
    { text: "NIR corse : 2 69 05 2A 123 456 88", language: "fr", expect: [["national_id", "2 69 05 2A 123 456 88", "FR NIR"]] },
    { text: "Mi DNI es 12345678Z", language: "es", expect: [["national_id", "12345678Z", "ES DNI"]] },
    { text: "Mi NIE es X1234567L.", language: "es", expect: [["national_id", "X1234567L", "ES NIE"]] },
    { text: "Il mio codice fiscale è RSSMRA85T10A562S", language: "it", expect: [["national_id", "RSSMRA85T10A562S", "IT codice fiscale"]] },
  ]);

  test("checksums and ranges reject look-alikes", () => {
    for (const text of [
      "SSN 666-12-3456",
      "SSN 000-12-3456",
      "SSN 923-45-6789",
      "SSN 123-00-6789",
      "SSN 123-45-0000",
      "Steuer-ID 12345678901", // all ten digits distinct
      "Steuer-ID 86095742718", // wrong check digit
      "Mon numéro de sécu est 1 85 05 78 006 084 36", // key should be 91
      "NIR 1 85 13 78 006 084 91", // month 13
      "Mi DNI es 12345678A",
      "NIE X1234567A",
      "codice RSSMRA85T10A562T",
    ])
      expect(findPii(text, { kinds: ["national_id"] })).toEqual([]);
  });

  test("the checkers on their own", () => {
    expect(ssnValid("123", "45", "6789")).toBe(true);
    expect(ssnValid("666", "45", "6789")).toBe(false);
    expect(steuerIdValid("86095742719")).toBe(true);
    expect(steuerIdValid("47036892816")).toBe(true); // one of the published test ids
    expect(steuerIdValid("47036892817")).toBe(false);
    expect(steuerIdValid("11145678903")).toBe(false); // a digit three times in a row
    expect(nirValid("185057800608491")).toBe(true);
    expect(nirValid("269052A12345688")).toBe(true);
    expect(nirValid("269052B12345688")).toBe(false);
    expect(codiceFiscaleValid("RSSMRA85T10A562S")).toBe(true);
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("4111111111111112")).toBe(false);
  });
});

describe("person", () => {
  runCases([
    { text: "Please forward this to John Smith.", language: "en", expect: [["person", "John Smith", "list"]] },
    { text: "Dr. Anna Schmidt will join us.", language: "en", expect: [["person", "Anna Schmidt", "title"]] },
    { text: "Hello, my name is Priya Patel.", language: "en", expect: [["person", "Priya Patel", "introduction"]] },
    { text: "Ich heiße Jana Nowak und wohne in Berlin.", language: "de", expect: [["person", "Jana Nowak", "introduction"]] },
    { text: "Bitte leiten Sie das an Herrn Müller weiter.", language: "de", expect: [["person", "Müller", "title"]] },
    { text: "Je m'appelle Marie Dubois, j'habite à Lyon.", language: "fr", expect: [["person", "Marie Dubois", "introduction"]] },
    { text: "Rendez-vous avec Mme Lefèvre et M. Dupont demain.", language: "fr", expect: [["person", "Lefèvre", "title"], ["person", "Dupont", "title"]] },
    { text: "Me llamo Juan García y vivo en Madrid.", language: "es", expect: [["person", "Juan García", "introduction"]] },
    { text: "Mi nombre es Lucía Fernández.", language: "es", expect: [["person", "Lucía Fernández", "introduction"]] },
    { text: "La Sra. López llamó ayer.", language: "es", expect: [["person", "López", "title"]] },
  ]);

  runCases([
    { text: "I had lunch with Mark Zuckerberg.", language: "en", expect: [["person", "Mark Zuckerberg", "list"]] },
    { text: "Anna Schneider kommt morgen.", language: "de", expect: [["person", "Anna Schneider", "list"]] },
    { text: "Contact: Lucía Romero, lucia@example.es", language: "es", expect: [["person", "Lucía Romero", "introduction"], ["email", "lucia@example.es"]] },
    { text: "Thanks for your help!\n\nBest regards,\nPriya", language: "en", expect: [["person", "Priya", "greeting"]] },
    { text: "Thanks, Mark", language: "en", expect: [["person", "Mark", "greeting"]] },
    { text: "Signed, Peter Meyer", language: "en", expect: [["person", "Peter Meyer", "introduction"]] },
    { text: "Ik heb met Dhr. van den Velde gesproken.", language: "nl", expect: [["person", "van den Velde", "title"]] },
    { text: "Ho parlato con Sig.ra Bianchi.", language: "it", expect: [["person", "Bianchi", "title"]] },
    { text: "Falei com Dra. Braga ontem.", language: "pt", expect: [["person", "Braga", "title"]] },
  ]);

  // names on no list (invented here): a greeting or sign-off that ends at the word is enough
  runCases([
    { text: "Hi Zorvath, could you send me the report?", language: "en", expect: [["person", "Zorvath", "greeting"]] },
    { text: "Hallo Quenwyn, kannst du mir helfen?", language: "de", expect: [["person", "Quenwyn", "greeting"]] },
    { text: "Thanks for the quick reply.\n\nRegards,\nTaveli Orsk", language: "en", expect: [["person", "Taveli Orsk", "greeting"]] },
    { text: "Bonjour Maëlwyn !", language: "fr", expect: [["person", "Maëlwyn", "greeting"]] },
    { text: "Hoi Brevka, kun je het rapport sturen?", language: "nl", expect: [["person", "Brevka", "greeting"]] },
    { text: "Referente: Olvaro Quintessi, tel. interno 42", language: "it", expect: [["person", "Olvaro Quintessi", "introduction"]] },
  ]);

  // titles written in lower case, lists after "Attendees:", name fields, lower-case names where someone is addressed
  runCases([
    { text: "Notatka: pani Wrzosowska wraca w poniedziałek.", language: "pl", expect: [["person", "Wrzosowska", "title"]] },
    { text: "Afspraak met meneer Quellenburg om tien uur.", language: "nl", expect: [["person", "Quellenburg", "title"]] },
    { text: "Fru Ekvallsson ringde om fakturan.", language: "sv", expect: [["person", "Ekvallsson", "title"]] },
    { text: "Dear Professor Umbeleki, may I ask for an extension?", language: "en", expect: [["person", "Umbeleki", "title"]] },
    { text: "Attendees: Tavrin, Oskela Drummet, Priya Patel", language: "en", expect: [["person", "Tavrin", "list-label"], ["person", "Oskela Drummet", "list-label"], ["person", "Priya Patel", "list-label"]] },
    { text: '{"kunde":"Velmira Oststrand","status":"aktiv"}', language: "de", expect: [["person", "Velmira Oststrand", "field"]] },
    { text: "Table for two under the name Quorvath, please.", language: "en", expect: [["person", "Quorvath", "introduction"]] },
    { text: "Thanks for covering my shift yesterday! — Orvik", language: "en", expect: [["person", "Orvik", "greeting"]] },
    { text: "can you tell jonas the keys are on the desk", language: "en", expect: [["person", "jonas", "lower-case"]] },
    { text: "@olivia can you review the deploy?", language: "en", expect: [["person", "olivia", "lower-case"]] },
  ]);

  test("lower-case words after the same cues are names only when the lists know them", () => {
    for (const text of ["can you tell everyone the keys are on the desk", "ask them tomorrow", "hey there, quick question", "@channel the build is green", "email me at ops@example.com"])
      expect(findPii(text, { kinds: ["person"], language: "en" })).toEqual([]);
  });

  test("a list label names no department or firm", () => {
    for (const text of ["Attendees: Marketing, Sales", "Present: Acme Corp", "Attendees: the whole team"])
      expect(findPii(text, { kinds: ["person"], language: "en" })).toEqual([]);
  });

  test("a greeting or sign-off to a group, a role or a department names no one", () => {
    for (const text of ["Contact: Billing Department", "Contact: Acme Corp for details.", "Kontakt: Stadtwerke München", "Hi Team, the build is green.", "Dear Customer, your order has shipped.", "Hallo Zusammen, kurze Info.", "Best regards,\nThe Support Team", "Regards,\nMarketing", "Hello World!", "Hola Equipo, ¿qué tal?", "I'm Zorvath, nice to meet you."])
      expect(findPii(text, { language: "en" }).filter((m) => m.kind === "person")).toEqual([]);
  });

  test("names that are everyday words, places, firms and products are not people without context", () => {
    for (const [text, language] of [
      ["Will the build pass?", "en"],
      ["May I ask you something?", "en"],
      ["Mark the ticket as done.", "en"],
      ["Rose gold and Amber are the new colours.", "en"],
      ["Grace period ends on Friday.", "en"],
      ["The Apple Watch and Google Pixel are on sale.", "en"],
      ["Hi Team, the Berlin office closes early.", "en"],
      ["Dear Customer,", "en"],
      ["Jordan is a country in the Middle East.", "en"],
      ["Carroll and Sons is located at 48 Schmitt Road.", "en"],
      ["Xavier, Barros e Pereira fica na Rua João Pedro.", "pt"],
      ["Ferrario SPA ha sede in Via Fedele 3.", "it"],
      ["Der Wolf und der Fuchs", "de"],
      ["The Shannon Estuary is wide here.", "en"],
      ["A book on the Roman Empire, please.", "en"],
      ["We walked through Victoria Park.", "en"],
    ] as const)
      expect(findPii(text, { kinds: ["person"], language })).toEqual([]);
  });

  test("weekdays, months, cities and titles alone are not people", () => {
    for (const [text, language] of [
      ["Monday", "en"],
      ["Paris", "en"],
      ["See you on Monday in Paris.", "en"],
      ["We flew from Paris to Berlin in May.", "en"],
      ["Dear Sir or Madam,", "en"],
      ["Wir sehen uns am Montag in Paris.", "de"],
      ["Rendez-vous lundi à Paris.", "fr"],
      ["Nos vemos el lunes en Madrid.", "es"],
      ["Put it in room M. Please hurry.", "en"],
    ] as const)
      expect(findPii(text, { kinds: ["person"], language })).toEqual([]);
  });

  test("long text is tagged in pieces, with offsets into the whole text", () => {
    const text = "The weather was fine and nothing happened. ".repeat(80) + "Please forward this to John Smith.";
    expect(findPii(text, { language: "en" })).toEqual(expected(text, [["person", "John Smith", "list"]]));
  });

  test("the name lists work in every language", () => {
    expect(kindsIn("Please forward this to John Smith.", "de")).toEqual(["person"]);
    expect(kindsIn("Please forward this to John Smith.")).toEqual(["person"]);
  });
});

describe("overlaps", () => {
  test("an SSN that also parses as a French phone is kept as the SSN", () => {
    const text = "SSN 123-45-6789";
    expect(findPii(text, { kinds: ["phone"], language: "fr" })).toEqual([]);
    expect(findPii(text, { language: "fr" })).toEqual(expected(text, [["national_id", "123-45-6789", "US SSN"]]));
  });

  test("an 11-digit number that is a Steuer-ID and a US phone is the Steuer-ID", () => {
    const text = "call 13109826543";
    expect(findPii(text, { kinds: ["phone"], language: "en" })).toHaveLength(1);
    expect(findPii(text, { language: "en" })).toEqual(expected(text, [["national_id", "13109826543", "DE Steuer-ID"]]));
  });

  test("the title heuristic and the tagger agree on one span", () => {
    const text = "Talk to Dr. Alan Turing's team.";
    expect(findPii(text, { language: "en" })).toEqual(expected(text, [["person", "Alan Turing", "title"]]));
  });

  test("the IPv4 inside an IPv4-mapped IPv6 address is not reported twice", () => {
    expect(kindsIn("from ::ffff:10.1.2.3 today")).toEqual(["ip_address"]);
  });

  test("results are sorted by start and never overlap", () => {
    const text =
      "Dr. Jane Roe (jane.roe@example.org, +44 20 7946 0958) paid with 4111 1111 1111 1111 from GB82 WEST 1234 5698 7654 32; " +
      "SSN 123-45-6789, server 10.20.30.40.";
    const matches = findPii(text, { language: "en" });
    expect(matches.map((m) => m.kind)).toEqual(["person", "email", "phone", "credit_card", "iban", "national_id", "ip_address"]);
    for (let i = 1; i < matches.length; i++) expect(matches[i]!.start).toBeGreaterThanOrEqual(matches[i - 1]!.end);
    for (const m of matches) expect(text.slice(m.start, m.end)).toBe(m.value);
  });
});

describe("options", () => {
  const text = "Mail jane@example.com or call +1 415 555 2671, IBAN DE89370400440532013000.";

  test("kinds filters what is looked for", () => {
    expect(findPii(text, { kinds: ["email"] }).map((m) => m.kind)).toEqual(["email"]);
    expect(findPii(text, { kinds: ["phone", "iban"] }).map((m) => m.kind)).toEqual(["phone", "iban"]);
    expect(findPii(text, { kinds: [] })).toEqual([]);
    expect(findPii(text).map((m) => m.kind)).toEqual(["email", "phone", "iban"]);
  });

  test("PII_KINDS lists every kind once", () => {
    expect(new Set(PII_KINDS).size).toBe(7);
  });
});

describe("adversarial input", () => {
  const n = 100_000;
  const inputs: Record<string, string> = {
    "letters": "a".repeat(n),
    "local part, no @": "a.".repeat(n / 2),
    "local part then @": "a".repeat(n) + "@",
    "@ runs": "a@".repeat(n / 2),
    "endless domain": "a@" + "a.".repeat(n / 2 - 1),
    "domain-ish": "a@a.".repeat(n / 4),
    "digits": "1".repeat(n),
    "spaced digits": "1 ".repeat(n / 2),
    "dotted digits": "1.".repeat(n / 2),
    "dashed digits": "-1".repeat(n / 2),
    "colons": ":".repeat(n),
    "hex and colons": "a:".repeat(n / 2),
    "hex run": "f".repeat(n) + "g",
    "IBAN-ish": "DE89 " + "AAAA ".repeat(n / 5),
    "titles": "Mr ".repeat(n / 3),
    "capitals": "A".repeat(n),
    "plus ones": "+1 ".repeat(n / 3),
  };
  const noPerson = PII_KINDS.filter((kind) => kind !== "person");
  for (const [name, text] of Object.entries(inputs))
    test(name, () => {
      expect(findPii(text, { kinds: noPerson, language: "de" })).toEqual([]);
      expect(findPii(text, { kinds: ["person"], language: "de" })).toEqual([]);
    });
});

test("the pii catalog's data file lists exactly the kinds the detector finds", async () => {
  const catalog = (await import("../../src/detectors/catalogs/pii.json")).default as { version: string; kinds: { id: string }[] };
  expect(catalog.kinds.map((kind) => kind.id)).toEqual([...PII_KINDS]);
  expect(catalog.version).toMatch(/^\d{4}\.\d{2}\.\d+$/);
});
