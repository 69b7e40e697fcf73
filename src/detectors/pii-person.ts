/**
 * Person names for `findPii`, the one heuristic kind. Four sources, all case-sensitive on purpose:
 *   - a title before the name ("Dr. Anna Schmidt", "Herrn Müller", "Mme Lefèvre", "Sra. López");
 *   - a trigger before it: self-introductions ("my name is", "ich heiße", "je m'appelle", "me llamo"), "Name:",
 *     greetings and sign-offs ("Dear Anna", "Hallo Jonas", "Best regards,\nPriya Patel", "-- Marc");
 *   - the name lists (src/detectors/lists/names.txt, generated from faker's locale data and
 *     gender-detection-from-name's first names by test/train/pii-names.ts): a known first name, and the capitalised name words after it. A first name that
 *     is also an everyday word ("Will", "May", "Mark", "Rose") counts only before a known surname, or mid-sentence
 *     before a capitalised word; alone it needs a title, greeting or introduction;
 *   - compromise's English named-entity tagger (English or no language), loaded on first use because it costs
 *     ~200 ms to load, and run only on pieces where it could find something.
 */
import { readFileSync } from "node:fs";
import type nlpType from "compromise";
import namesPath from "./lists/names.txt" with { type: "file" };
import type { PiiMatch } from "./pii.ts";

// The name lists (80,000 words, ~7 MiB as sets) are read on the first person search, not at start-up: only PII
// screening needs them. One list per line: `<list> <name> <name> …` (test/train/pii-names.ts writes the file).
let FIRST: Set<string>;
let FIRST_COMMON: Set<string>;
let LAST: Set<string>;
let LAST_COMMON: Set<string>;
function loadNameLists(): void {
  if (FIRST) return;
  const lists = new Map<string, Set<string>>();
  for (const line of readFileSync(namesPath, "utf8").split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const [name, ...words] = line.split(" ");
    lists.set(name!, new Set(words));
  }
  const list = (name: string) => lists.get(name) ?? new Set<string>();
  [FIRST, FIRST_COMMON, LAST, LAST_COMMON] = [list("first"), list("firstCommon"), list("last"), list("lastCommon")];
}
const isKnownName = (word: string) => FIRST.has(word) || FIRST_COMMON.has(word) || LAST.has(word) || LAST_COMMON.has(word);

/** A capitalized name word: "Müller", "O'Brien", "Jean-Luc", "McDonald". */
const NAME_WORD = String.raw`\p{Lu}\p{L}*(?:-\p{L}+|['’]\p{Lu}\p{L}*)*`;
const NAME_AT = new RegExp(String.raw`[ \t\u00a0]*(?:\n[ \t\u00a0]*)?((?:(?:van|von|de|der|den|del|della|di|da|du|dos|das|do|ter|ten|zu)[ \t\u00a0]+){0,2}${NAME_WORD})(?:[ \t\u00a0]+(${NAME_WORD}))?`, "uy");
const ABBREVIATED_TITLES = "Mr Mrs Ms Mx Dr Dra Drs Prof Sr Sra Srta Mme Mlle Hr Dña Dott Dott.ssa Sig Sig.ra Dhr Mevr Sen Fam".split(" ");
const FULL_TITLES =
  "Miss Sir Dame Lord Lady Herr Herrn Frau Monsieur Madame Mademoiselle Señor Señora Señorita Don Doña Signor Signora Signorina Dottore Dottoressa Senhor Senhora Mevrouw Meneer Professor Professorin Professeur Profesor Profesora Professore Professoressa Pan Pani Pana Panu Panią Panem Fru Fröken Doktor Dottor".split(
    " ",
  );
/**
 * Titles that Dutch, Polish, the Nordic languages (and everyone typing fast) write in lower case mid-sentence:
 * "meneer Hendriks", "pani Grabowska", "fru Andersson", "dr Jabłońskiej". Only these: lower-case "sir" or "don"
 * before a capitalised word is as often something else.
 */
const LOWER_CASE_TITLES = "dr dra prof dott dhr mevr fam meneer mevrouw pan pani pana panu panią panem fru herr doktor dottor".split(" ");
const TITLE = String.raw`(?:(?:${[...ABBREVIATED_TITLES, ...LOWER_CASE_TITLES].map((t) => t.replace(".", "\\.")).join("|")})\.?|M\.|D\.|${FULL_TITLES.join("|")})(?=\s)`;
const HONORIFIC = new RegExp(String.raw`(?<![\p{L}\p{N}])${TITLE}(?:\s+${TITLE})*`, "gu");
const LEADING_TITLES = new RegExp(String.raw`^(?:${TITLE}\s+)+`, "u");
const INTRODUCTION =
  /(?<![\p{L}])(?:my name is|my name's|i am called|ich heiße|ich heisse|mein name ist|je m['’]appelle|mon nom est|me llamo|mi nombre es|mi chiamo|il mio nome è|mijn naam is|ik heet|meu nome é|me chamo|name['’]s|(?:full )?name\s?:|under the name|in the name of|a nombre de|au nom de|auf den namen|im namen von|em nome de|a nome di|op naam van|(?:name on (?:the )?card|card ?holder|applicant|candidate|patient|passenger|tenant|assigned to|reported by|requested by)\s?:|nombre\s?:|nom\s?:|nome\s?:|naam\s?:|signed,?|gez\.|firmado,?|signé,?)(?=\s)/giu;
/** Labels that name whom to contact: a person, or as often a department or a firm (see contactName). */
const CONTACT_LABEL = /(?<![\p{L}])(?:contact(?: person)?|contacto|contatto|referente|kontakt(?:person)?|ansprechpartner(?:in)?|contactpersoon)\s?:(?=\s)/giu;
/** Greetings and sign-offs: the words after them are a name only when the first one is on the name lists. */
/** The words that only greet or sign off (GREETING also takes "I'm", "this is", "ask" …; ADDRESSING, only these). */
const ADDRESS_WORDS =
  "dear|hi|hello|hey|thanks|thank you|cheers|regards|best|sincerely|yours|liebe|lieber|hallo|grüße|gruß|viele grüße|bonjour|salut|cher|chère|merci|cordialement|hola|querid[oa]|estimad[oa]|saludos|gracias|ciao|car[oa]|gentile|grazie|saluti|beste|hoi|groeten|olá|oi|obrigad[oa]|atenciosamente|abraços";
const GREETING = new RegExp(
  String.raw`(?<![\p{L}])(?:${ADDRESS_WORDS}|i['’]m|i am|this is|it['’]s|ask|asked|tell|told|cc)[,!:]?[ \t]*(?:\n[ \t]*)?(?=\p{Lu})|(?:^|\n)[ \t]*(?:--|—|–)[ \t]*(?=\p{Lu})|(?:--|—|–)[ \t]*(?=\p{Lu}\p{Ll}+(?:[ \t]+\p{Lu}\p{Ll}+)?[ \t]*(?:\n|$))`,
  "giu",
);
/**
 * A greeting or sign-off followed by a word on the name lists; or, for the words that only greet or sign off
 * ("Hi", "Dear", "Bonjour", "Regards", not "I'm" or "ask"), by any capitalised word that ends the greeting —
 * "Hi Gwendolyn,", "Viele Grüße\nEveline Schwanbeck" — unless it is a way to address a group or a role
 * ("Hi Team,", "Liebe Kollegen,"). Measured with 30 % of the name lists held out: names not on the lists were
 * found 44.6 % of the time with the lists alone.
 */
function addressedName(word: string, trigger: string, following: string, second?: string): boolean {
  if (isKnownName(word)) return true;
  return ADDRESSING.test(trigger) && /^[ \t]*(?:[,!:]|\r?\n|$)/.test(following) && !ADDRESSEES.has(word) && !(second && ADDRESSEES.has(second));
}

/** After "Contact:", "Referente:": a listed first word, or words none of which names a department or a firm. */
function contactName(word: string, _trigger: string, _following: string, second?: string): boolean {
  if (isKnownName(word)) return true;
  return !ADDRESSEES.has(word) && !(second && ADDRESSEES.has(second)) && !/^\p{Lu}+$/u.test(word);
}
/** A GREETING match that only greets or signs off (a dash line too). */
const ADDRESSING = new RegExp(String.raw`^(?:[ \t]*(?:--|—|–)|\n|${ADDRESS_WORDS})`, "iu");
const ADDRESSEES = new Set(
  (
    "World Zusammen Leute Welt Kollegen Kolleginnen Grüße Gruß Tous Toutes Todos Todas Amigos Amigas Equipo Chicos Chicas " +
    "Ragazzi Tutti Allemaal Iedereen Pessoal Gente Everybody Folks Guys There Ladies Gentlemen Mesdames Messieurs Señores " +
    "Señoras Signore Signori Damen Herren Family Familie Famille Familia Mom Mum Dad Mama Papa Maman Papá Mamá Boss Chef " +
    "Doctor Doktor Docteur Professor Teacher Students Class Users Members Community Reader Readers Again Everyone Anyone " +
    "Team Teams Kunde Kunden Client Clients Customer Customers Colleague Colleagues Friend Friends Partner Partners Sir Sirs " +
    "Madam Madame Mister Miss Manager Managers Staff Crew Neighbours Neighbors Parents Eltern Collègues Compañeros " +
    // terms of endearment and assistants' names
    "Hiring Sunshine Darling Honey Sweetie Love Buddy Mate Pal Dude Bro Sis Kitty Chatgpt ChatGPT Gemini Copilot Bard Cortana " +
    // who signs off a message that is not a person: a department, an office
    "Marketing Sales Support Service Services Management Product Products Engineering Finance Accounting Legal Operations " +
    "Office Recruiting Recruitment Personal Personalabteilung Vertrieb Kundenservice Kundendienst Direction Équipe Servicio Atención " +
    "Department Dept Helpdesk Desk Billing Press Reception Front Corp Inc Ltd GmbH Company Stadtwerke Abteilung Cliente Clientes"
  ).split(" "),
);

/** Capitalized words that follow a title, greeting or list name, or start a sentence, without being a name. */
const NOT_NAMES = new Set(
  (
    "The And Und Der Die Das Le La Les El Los Las Et Y I A An Of In On At To For With From By Team All Everyone Customer " +
    "Customers Sir Madam Madame Client Clients Kunde Kunden Colleague Colleagues Friend Friends Support Service Sales Admin " +
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag " +
    "Lundi Mardi Mercredi Jeudi Vendredi Samedi Dimanche Lunes Martes Miércoles Jueves Viernes Sábado Domingo " +
    "January February March April May June July August September October November December Januar Februar März Juni Juli " +
    "Oktober Dezember Janvier Février Mars Avril Mai Juin Juillet Août Septembre Octobre Novembre Décembre Enero Febrero " +
    "Marzo Abril Mayo Junio Julio Agosto Septiembre Octubre Noviembre Diciembre Gennaio Febbraio Aprile Maggio Giugno " +
    "Luglio Settembre Ottobre Dicembre Christmas Easter Paris London Berlin Madrid Rome Roma Lyon Marseille Munich München " +
    "Hamburg Vienna Wien Zurich Zürich Geneva Genève Milan Milano Florence Venice Naples Barcelona Sevilla Valencia Lisbon " +
    "Lisboa Porto Amsterdam Rotterdam Brussels Bruxelles Dublin Sydney Melbourne Austin Dallas Houston Phoenix Denver " +
    "Boston Chicago Seattle Atlanta Orlando Miami Washington Lincoln Jackson Madison Georgia Virginia Carolina Florida " +
    "France Germany Spain Italy Portugal Brazil Canada Mexico Japan Russia Poland Austria Switzerland Belgium Sweden Norway Denmark Finland Greece Turkey Egypt Ireland Scotland Wales England Britain Australia Argentina Chile Peru Colombia Kenya Nigeria Holland Indiana Montana Nevada Jordan Israel India China America Africa Asia Europe German English French Spanish Italian " +
    "Dutch Christian Catholic Chelsea Arsenal Mercedes Porsche Toyota Tesla Siri Alexa Python Java Ruby Swift Rust " +
    "Linux Windows Android Apple Google Amazon Microsoft Meta Oracle Adobe Intel Nvidia Samsung Street Avenue Road Hotel " +
    "Hi Hello Dear Thanks Best Regards Cheers Hallo Bonjour Hola Ciao Please Note North South East West New Saint San Santa " +
    "Group Gruppe Groupe Grupo Hermanos Hijos Asociados Associados Sons Partners Holding Comércio " +
    "Descoberto Nossa Senhora Sul Norte Leste Oeste Nord Alt Neu Old Lake Port Mount Fort Rose Amber Grace Hope Faith Joy Summer Winter"
  ).split(" "),
);
/** Streets and places are often named after people: "Via Fedele", "Rua João Pedro", "6832 Hayes Summit". */
const PLACE_BEFORE =
  /(?:\d+[a-z]?,?|\b(?:Via|Viale|Piazza|Piazzale|Corso|Contrada|Borgo|Largo|Vicolo|Strada|Rotonda|Rua|Avenida|Travessa|Rodovia|Alameda|Praça|Estrada|Calle|Plaza|Paseo|Camino|Ronda|Bloque|Jardines|Riera|Rambla|Carrer|Conjunto|Rue|Avenue|Boulevard|Place|Passage|Allée|Impasse|Quai|Chemin|Voie|Square|Platz|Street|Road|Lane|Drive|Saint|San|Santa|Sankt|St|Sesto|Nord|Süd|Ost|Alt|Neu|Bad|Old|Lake|Port|Mount|Fort|Villa|Ciudad|Puerto|Vila|Colonia|Barrio|Hotel|Restaurant|Café|Universidad|Université|University|Hospital|Klinik|Marginal|Partida|Aldea|Lado|Puerta|Incrocio|Quarto|Quinto|Settimo|Marina|Lido|West|East|North|South|New|Upper|Lower|Little|Great)\.?)[ \u00a0]+$/u;
const PLACE_AFTER =
  /^(?:-?(?:Str\.|Straße|Strasse|straße|strasse|Platz|Weg|Allee|Gasse|Ring)|[ \u00a0]+(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Lane|Drive|Boulevard|Way|Court|Place|Summit|Ranch|Square|Park|Bridge|Hill|Heights|Terrace|Crescent|Close|Gardens|Mews|Valley|University|College|Institute|Foundation|Hospital|Airport|Station|Stadium|Center|Centre|Museum|terme|umbro|(?:do|de|da) (?:Sul|Norte|Descoberto|Nossa)|veneto|salentino|lido|ligure|sardo|laziale|calabro|City|County|Beach|Falls|Springs|River|Estuary|Empire|Kingdom|Republic|Dynasty|Line|Lines|Clinic|Army|Navy))\b/u;
/** The words of PLACE_AFTER that end a place's name. */
const PLACE_WORDS = new Set(
  "Street Road Avenue Lane Drive Boulevard Way Court Place Summit Ranch Square Park Bridge Hill Heights Terrace Crescent Close Gardens Mews Valley University College Institute Foundation Hospital Airport Station Stadium Center Centre Museum City County Beach Falls Springs River Estuary Empire Kingdom Republic Dynasty Line Lines Clinic Army Navy".split(" "),
);
/** "Carroll and Sons", "Dini, Degano e Giampaolo SPA", "Pierre EI": the names of companies. */
const COMPANY_AFTER =
  /^(?:,?[ \u00a0]+(?:and|et|e|y|und|&|en)?[ \u00a0]*\p{Lu}[\p{L}'’-]*){0,3}[ \u00a0,]+(?:(?:and|&|e|y|und|et|en)[ \u00a0]+)?(?:GmbH|AG|KG|OHG|SE|S\.A\.|SA|SpA|SPA|S\.p\.A\.|s\.r\.l\.|srl|Srl|Ltd|LLC|Inc|PLC|plc|Group|Gruppe|Groupe|Grupo|Sons|figli|Hermanos|Hijos|SNC|SARL|SAS|EI|EIRELI|LTDA|Ltda|BV|NV|B\.V\.|N\.V\.|Comércio|Associados|Partners|Holding|Corp|Co\.|& Co|and Co)(?![\p{L}])/u;

/** "Xavier, Barros e Pereira", "Karst, Howard und Best": surnames joined like this name a firm. */
const SURNAME_BEFORE = /(\p{Lu}[\p{L}'’-]*)(?:,|[ \u00a0]+(?:and|&|et|e|y|und|en))[ \u00a0]+$/u;
const SURNAME_AFTER = /^(?:,|[ \u00a0]+(?:and|&|et|e|y|und|en))[ \u00a0]+(\p{Lu}[\p{L}'’-]*)/u;
const isOnlySurname = (word: string | undefined) => word !== undefined && (LAST.has(word) || LAST_COMMON.has(word)) && !FIRST.has(word);

function inPlaceOrCompany(text: string, start: number, end: number): boolean {
  if (/\p{L}-$/u.test(text.slice(Math.max(0, start - 2), start)) || /^-\p{L}/u.test(text.slice(end, end + 2))) return true;
  if (PLACE_BEFORE.test(text.slice(Math.max(0, start - 16), start)) || PLACE_AFTER.test(text.slice(end, end + 16))) return true;
  if (COMPANY_AFTER.test(text.slice(end, end + 60))) return true;
  return isOnlySurname(SURNAME_BEFORE.exec(text.slice(Math.max(0, start - 30), start))?.[1]) || isOnlySurname(SURNAME_AFTER.exec(text.slice(end, end + 30))?.[1]);
}

/** Words between a first name and a surname: "Ludwig van Beethoven", "María de la Cruz", "Otto von Bismarck". */
const PARTICLES = new Set("van von der den de del della di da das do dos du la le zu ten ter y e".split(" "));

/** "M. Dupont", "D. Juan" — but elsewhere an initial or a sentence ending in a capital ("room M. Please …"). */
const INITIAL_LIKE_TITLES: Record<string, string> = { "M.": "fr", "D.": "es" };
const TITLE_WORDS = new Set([...ABBREVIATED_TITLES, ...FULL_TITLES, "Madam"]);

/** Labels of a list of people: "Attendees: Tomasz, Adaeze Okafor", "presenti Francesca e Alessandro Greco". */
const PEOPLE_LIST_LABEL =
  /(?<![\p{L}])(?:attendees|participants|present|guests|panel|interview panel|cc|anwesend|teilnehmer(?:innen)?|présents|participants|presentes|asistentes|presenti|partecipanti|aanwezig|deelnemers|obecni|uczestnicy|närvarande|deltagare|til stede|deltagere)\s?:?(?=[ \t])/giu;
const LIST_SEPARATOR = /\s*(?:[,;]|\s(?:and|und|et|e|y|en|i|och|og|&)\s)\s*/u;
const LISTED_PERSON = new RegExp(String.raw`^(${NAME_WORD})(?:[ \u00a0]+(${NAME_WORD})){0,2}(?=[ \u00a0]*(?:\(|$))`, "u");

/** Each name in a list after such a label, to the end of the line or sentence; a department or a firm ends it. */
/** A JSON or form field that holds a name: `"kunde":"Hannelore Beck"`, `"customer_name": "Ana Ruiz"`. */
const NAME_FIELD =
  /"(?:(?:full|first|last|given|family|customer|contact|user|display)_?name|name|customer|kunde|kundin|cliente|client|contact|owner|patient|guest|passenger|employee|nombre|nom|nome|naam|imie|imię|nazwisko)"[ \t]*:[ \t]*"/giu;

function listedAfterLabel(text: string, found: PiiMatch[]): void {
  for (const label of text.matchAll(PEOPLE_LIST_LABEL)) {
    const from = label.index + label[0].length;
    const line = /^[^\n.]*/u.exec(text.slice(from, from + 300))![0];
    let offset = from;
    for (const piece of line.split(/(\s*(?:[,;]|\s(?:and|und|et|e|y|en|i|och|og|&)\s)\s*)/u)) {
      const at = offset;
      offset += piece.length;
      if (LIST_SEPARATOR.test(piece) && piece.trim().length <= 4) continue;
      const lead = piece.length - piece.trimStart().length;
      const name = LISTED_PERSON.exec(piece.trim());
      if (!name) break;
      const words = name[0].split(/[ \u00a0]+/);
      if (words.some((w) => NOT_NAMES.has(w) || ADDRESSEES.has(w) || TITLE_WORDS.has(w))) break;
      found.push({ kind: "person", start: at + lead, end: at + lead + name[0].length, value: name[0], detail: "list-label" });
    }
  }
}

/**
 * Names typed in lower case in a chat are names only on the lists, and only where a person is addressed:
 * "tell nils", "dile a paco", "@olivia". FIRST holds no everyday English word (those are in FIRST_COMMON).
 */
const LOWER_CASE_CUE =
  /(?:(?<![\p{L}])(?:tell|ask|ping|thanks|thank you|thx|hey|hi|dile a|dis à|demande à|sag(?: bitte)?(?: dem| der)?|frag(?: mal)?|zeg(?: tegen)?|vraag|fala (?:pro|pra|para o|para a)|pergunta (?:ao|à)|di['’] a|chiedi a|powiedz|säg till|fråga)[ \t]+|(?<![\p{L}\p{N}._%+-])@)(\p{Ll}[\p{Ll}'’-]{2,})(?![\p{L}\p{N}@])/gu;

function lowerCaseNames(text: string, found: PiiMatch[]): void {
  for (const m of text.matchAll(LOWER_CASE_CUE)) {
    const word = m[1]!;
    if (!FIRST.has(word.charAt(0).toUpperCase() + word.slice(1))) continue;
    const start = m.index + m[0].length - word.length;
    found.push({ kind: "person", start, end: start + word.length, value: word, detail: "lower-case" });
  }
}

export function findPeople(text: string, language: string, found: PiiMatch[]): void {
  loadNameLists();
  listedAfterLabel(text, found);
  lowerCaseNames(text, found);
  nameAfter(text, HONORIFIC, "title", found, (title) => {
    const onlyIn = INITIAL_LIKE_TITLES[title];
    return onlyIn === undefined || language.startsWith(onlyIn);
  });
  nameAfter(text, INTRODUCTION, "introduction", found, () => true);
  nameAfter(text, GREETING, "greeting", found, () => true, addressedName);
  nameAfter(text, CONTACT_LABEL, "introduction", found, () => true, contactName);
  nameAfter(text, NAME_FIELD, "field", found, () => true, contactName);
  listedNames(text, language, found);
  if (language === "" || language.startsWith("en")) taggerNames(text, found);
}

// ---- the name lists ----------------------------------------------------------------------------------------

const CAPITALIZED = /(?<![\p{L}\p{N}_@.'’-])\p{Lu}\p{Ll}+(?:-\p{Lu}?\p{Ll}+|['’]\p{Lu}\p{Ll}+)*(?![\p{L}\p{N}_@]|\.\p{L})/gu;

function listedNames(text: string, language: string, found: PiiMatch[]): void {
  const words = [...text.matchAll(CAPITALIZED)];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]![0];
    const plain = FIRST.has(word);
    if (!plain && !FIRST_COMMON.has(word)) continue;
    const start = words[i]!.index;
    // The name words that follow: capitalised, separated by one space and maybe particles, none a stop word.
    let end = start + word.length;
    let next = i + 1;
    const followers: string[] = [];
    while (next < words.length && followers.length < 3) {
      const gap = text.slice(end, words[next]!.index);
      if (!/^[ \u00a0]$/.test(gap) && !(gap.length > 2 && gap.trim().split(/[ \u00a0]+/).every((p) => PARTICLES.has(p)) && /^[ \u00a0]/.test(gap)))
        break;
      const follower = words[next]![0];
      if (NOT_NAMES.has(follower) || TITLE_WORDS.has(follower)) break;
      if (PLACE_WORDS.has(follower)) {
        // "Shannon Estuary", "Roman Empire", "Lincoln Park": a place named after someone
        followers.length = 0;
        end = -1;
        break;
      }
      followers.push(follower);
      end = words[next]!.index + follower.length;
      next++;
    }
    if (end < 0) {
      i = next;
      continue;
    }
    const surname = followers[0];
    const midSentence = !startsSentence(text, start);
    const accept = NOT_NAMES.has(word)
      ? surname !== undefined && LAST.has(surname)
      : surname === undefined
        ? plain && !TITLE_WORDS.has(word)
        : LAST.has(surname) || FIRST.has(surname) || plain || (midSentence && (LAST_COMMON.has(surname) || !/^(?:de|nl)/.test(language)));
    if (accept && !inPlaceOrCompany(text, start, end)) found.push({ kind: "person", start, end, value: text.slice(start, end), detail: "list" });
    if (accept) i = next - 1;
  }
}

/** After a full stop or a line break, where any word is capitalised; a colon ("Contact: Anna Berg") is not one. */
function startsSentence(text: string, index: number): boolean {
  let i = index - 1;
  while (i >= 0 && /[ \t"'“‘(\[*_-]/u.test(text[i]!)) i--;
  return i < 0 || /[.!?\n]/.test(text[i]!);
}

// ---- compromise --------------------------------------------------------------------------------------------

type NlpPerson = { offset: { start: number; length: number } };
let nlp: typeof nlpType | undefined;
const NAME_TAGS = new Set(["FirstName", "MaleName", "FemaleName", "LastName", "Person", "Honorific"]);
let nameLexicon: Set<string> | undefined;
/** The tagger's lexicon words that are not names: a pair of these ("Recycled Ceramic Chair") is a product, not a person. */
let wordLexicon: Set<string> | undefined;

function taggerNames(text: string, found: PiiMatch[]): void {
  // Loaded here, not at import: only requests that ask for names pay for the tagger.
  nlp ??= require("compromise") as typeof nlpType;
  for (let from = 0; from < text.length; ) {
    const to = sentenceEnd(text, from);
    const sentence = text.slice(from, to);
    // The tagger costs ~0.3 ms even for a short sentence, more for a long one; most sentences have no word it
    // could call a name, and it tags a sentence by that sentence's words alone, so only those it could are fed.
    if (mayNameSomeone(sentence, from, found)) {
      for (const person of nlp(sentence).people().json({ offset: true }) as NlpPerson[])
        taggedName(text, from + person.offset.start, from + person.offset.start + person.offset.length, found);
    }
    from = to;
  }
}

/**
 * Whether the tagger could find a person here: some capitalized word, not on our name lists (their rules have
 * decided those), is a name in its lexicon or starts a capitalised pair in mid-sentence (where only names and
 * other proper nouns are). "Say hello." and "Tel. 030 1234567 / Fax 030 1234568" have none, and skip the ~0.5 ms.
 */
function mayNameSomeone(chunk: string, offset: number, found: readonly PiiMatch[]): boolean {
  if (!nameLexicon || !wordLexicon) {
    const lexicon = (nlp as unknown as { model(): { one: { lexicon: Record<string, string | string[]> } } }).model().one.lexicon;
    const isName = (tags: string | string[]) => [tags].flat().some((tag) => NAME_TAGS.has(tag));
    nameLexicon = new Set(Object.keys(lexicon).filter((word) => isName(lexicon[word]!)));
    wordLexicon = new Set(Object.keys(lexicon).filter((word) => !isName(lexicon[word]!)));
  }
  for (const match of chunk.matchAll(CAPITALIZED)) {
    const word = match[0];
    if (NOT_NAMES.has(word) || TITLE_WORDS.has(word)) continue;
    // A word the lists or a title already called a name needs no second opinion.
    const at = offset + match.index;
    if (found.some((m) => m.kind === "person" && m.start <= at && at < m.end)) continue;
    // On our lists the list rules have decided already; what the tagger adds is names we do not know.
    if (isKnownName(word)) continue;
    if (nameLexicon.has(word.toLowerCase())) return true;
    // An unknown capitalised pair in mid-sentence ("with Zorana Quist") may be a name the tagger can place.
    const next = /^[ \u00a0](\p{Lu}\p{Ll}+)/u.exec(chunk.slice(match.index + word.length, match.index + word.length + 40));
    if (next && !startsSentence(chunk, match.index) && !(wordLexicon.has(word.toLowerCase()) && wordLexicon.has(next[1]!.toLowerCase()))) return true;
  }
  return false;
}

/**
 * compromise's cost grows faster than the text (a 50 KB run without sentence breaks takes seconds), so it is fed
 * one sentence at a time: up to a line break, or a full stop, question or exclamation mark and a space, unless the
 * stop ends a title or an initial ("Dr. Ana Ruiz", "J. Smith"); and never more than this many characters, cut
 * between words.
 */
const TAGGER_SENTENCE_CHARS = 1500;
const SENTENCE_STOP = /\n|[.!?](?=\s)/g;
const TITLE_OR_INITIAL_BEFORE = /(?:^|[^\p{L}])(\p{Lu}|\p{L}+)\.$/u;

function sentenceEnd(text: string, from: number): number {
  const limit = Math.min(text.length, from + TAGGER_SENTENCE_CHARS);
  SENTENCE_STOP.lastIndex = from;
  for (let stop = SENTENCE_STOP.exec(text); stop && stop.index < limit; stop = SENTENCE_STOP.exec(text)) {
    if (stop[0] === ".") {
      const word = TITLE_OR_INITIAL_BEFORE.exec(text.slice(Math.max(from, stop.index - 12), stop.index + 1))?.[1];
      if (word && (word.length === 1 || TITLE_WORDS.has(word))) continue;
    }
    return stop.index + 1;
  }
  if (limit >= text.length) return text.length;
  const space = text.lastIndexOf(" ", limit - 1);
  return space > from ? space + 1 : limit;
}

/**
 * A name as the tagger saw it, less its title, possessive and what follows the name words. compromise also calls
 * "Grace period", "Amber" or a company "Klein - van Iersel" people, so only capitalised words count, and a single
 * word only when the name lists call it a first name that is not an everyday word.
 */
const TAGGED_WORD = String.raw`\p{Lu}[\p{L}\p{M}]*(?:[-'’]\p{Lu}[\p{L}\p{M}]*)*`;
const TAGGED_WORDS = new RegExp(String.raw`^${TAGGED_WORD}(?:[ \u00a0]+${TAGGED_WORD})*(?![\p{L}\p{M}])`, "u");

function taggedName(text: string, start: number, end: number, found: PiiMatch[]): void {
  const title = LEADING_TITLES.exec(text.slice(start, end));
  if (title) start += title[0].length;
  const words = TAGGED_WORDS.exec(text.slice(start, end));
  if (!words) return;
  end = start + words[0].length;
  const value = text.slice(start, end);
  const parts = value.split(/[ \u00a0]+/);
  if (parts.some((p) => NOT_NAMES.has(p) || TITLE_WORDS.has(p))) return;
  if (parts.length === 1 && !FIRST.has(value)) return;
  if (PLACE_BEFORE.test(parts[0]! + " ")) return;
  if (inPlaceOrCompany(text, start, end)) return;
  found.push({ kind: "person", start, end, value, detail: "nlp" });
}

// ---- triggers ----------------------------------------------------------------------------------------------

/** The one or two capitalized words after each `trigger` match; the name alone is the span, not the title. */
function nameAfter(
  text: string,
  trigger: RegExp,
  detail: string,
  found: PiiMatch[],
  accept: (trigger: string) => boolean,
  firstWordOk: (word: string, trigger: string, following: string, second?: string) => boolean = () => true,
): void {
  for (const m of text.matchAll(trigger)) {
    if (!accept(m[0])) continue;
    NAME_AT.lastIndex = m.index + m[0].length;
    const name = NAME_AT.exec(text);
    if (!name || NOT_NAMES.has(name[1]!) || TITLE_WORDS.has(name[1]!) || !firstWordOk(name[1]!, m[0], text.slice(NAME_AT.lastIndex, NAME_AT.lastIndex + 4), name[2])) continue;
    const start = NAME_AT.lastIndex - name[0].length + name[0].indexOf(name[1]!);
    const end = name[2] && !NOT_NAMES.has(name[2]) ? NAME_AT.lastIndex : start + name[1]!.length;
    found.push({ kind: "person", start, end, value: text.slice(start, end), detail });
  }
}
