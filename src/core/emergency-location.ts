import type { EmergencyLocation, LocationQuality } from "./emergency.ts";

// Reading the caller's location out of the notification's plain-text lines. The real layout is unpublished
// (reference/teams-emergency-calls.md §1.3-1.4): what is known is that the place text of a dynamic location is
// in the body. So lines are read by their labels ("Location:", "Address:", "Place:", "Coordinates:") rather
// than by position, and the raw text is always kept for the people reading the alert.

export interface ExtractedLocation {
  location: EmergencyLocation;
  /** Indexes of the lines that made up the location, so other fields are not read from them (a "112 Main St"). */
  lineIndexes: Set<number>;
}

/** 911, 933 or 112 standing alone: not part of a longer number, a phone number or a decimal. */
export const KNOWN_DIAL_STRINGS = /(?<![\d+.-]\s?)\b(911|933|112)\b(?!\s?[\d.-])/;

type LabelClass = "coordinates" | "address" | "place" | "location" | "dial" | "other";

// "Label: value" with a short label; values may contain colons ("Time: 09:00").
const LABELLED = /^([^:]{1,80}?)\s*:\s*(.*)$/;
const UNKNOWN_LINE =
  /^(?:location\s*(?:is\s*)?(?:unknown|not available|unavailable|not provided|not shared)|unknown location|no location(?:\s+(?:available|provided|information|shared))?)\s*[.!]?$/i;
const UNKNOWN_VALUE = /^(?:unknown|not available|unavailable|not provided|n\/?a|none|-+)\s*[.!]?$/i;
// "entered by the user, not verified" style wording: the address was typed or confirmed by the caller.
const USER_ENTERED =
  /entered by (?:the )?(?:user|caller)|(?:user|caller)[- ](?:entered|provided|supplied)|provided by (?:the )?(?:user|caller)|not (?:been )?(?:verified|validated)|unverified|unvalidated|self[- ]reported/i;

/**
 * The location found in `lines` (plain text, "" between paragraphs). With `unlabelled`, when no line carries a
 * location label, the lines without any label are read as the location (the lines after the phrase, or a
 * per-org rule's `location` group).
 */
export function extractLocation(
  lines: readonly string[],
  options: { unlabelled?: boolean } = {},
): ExtractedLocation {
  const used = new Set<number>();
  const places: string[] = [];
  const addresses: string[] = [];
  const mixed: string[][] = [];
  let coordinates: EmergencyLocation["coordinates"] = null;
  let userEntered = false;
  let unknownLine: number | undefined;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (UNKNOWN_LINE.test(line)) {
      unknownLine ??= i;
      used.add(i);
      continue;
    }
    const labelled = LABELLED.exec(line);
    if (!labelled) continue;
    const label = labelled[1]!;
    const kind = classifyLabel(label);
    if (kind === "dial" || kind === "other") continue;
    used.add(i);
    if (USER_ENTERED.test(label)) userEntered = true;
    const block = blockAfter(lines, i, labelled[2]!.trim(), used);
    if (block.length === 1 && UNKNOWN_VALUE.test(block[0]!)) {
      unknownLine ??= i;
      continue;
    }
    // The label itself may carry half of a pair ("Lat: 47.64, Long: -122.13").
    coordinates ??= findCoordinates([line, ...block].join(" "));
    const text = block.filter((l) => !isCoordinatesOnly(l));
    if (text.some((l) => USER_ENTERED.test(l))) userEntered = true;
    if (kind === "place") places.push(...text);
    else if (kind === "address") addresses.push(...text);
    else if (kind === "location") mixed.push(text);
  }

  // The reference skeleton has the place text on its own line without a label (§1.3(e)).
  if (options.unlabelled && used.size === 0) {
    const block: string[] = [];
    lines.forEach((line, i) => {
      if (!/\p{L}/u.test(line) || LABELLED.test(line) || UNKNOWN_VALUE.test(line)) return;
      // "Emergency services (112) notified" is about the dial string; "112 Main Street" is an address.
      if (KNOWN_DIAL_STRINGS.test(line) && !looksLikeAddress(line)) return;
      block.push(line);
      used.add(i);
    });
    coordinates ??= findCoordinates(block.join(" "));
    if (block.some((l) => USER_ENTERED.test(l))) userEntered = true;
    mixed.push(block.filter((l) => !isCoordinatesOnly(l)));
  }

  for (const block of mixed) {
    const split = splitPlaceAndAddress(block.map(stripUserEnteredNote).filter((l) => l !== ""));
    if (split.place !== null) places.push(split.place);
    addresses.push(...split.address);
  }
  const place = places.length > 0 ? places.join(", ") : null;
  const civicAddress = addresses.length > 0 ? addresses.join(", ") : null;
  const rawLines = [...used].sort((a, b) => a - b).map((i) => lines[i]!);
  const raw = rawLines.length > 0 ? rawLines.join("\n") : null;
  const hasLocation = place !== null || civicAddress !== null || coordinates !== null;
  const quality: LocationQuality = !hasLocation ? "unknown" : userEntered ? "user_entered" : "known";
  return {
    location: { raw, place, civicAddress, coordinates, quality },
    lineIndexes: used,
  };
}

/** Whether a label names a dial string ("Dialed", "Number dialed", "Emergency number"). */
export function isDialLabel(label: string): boolean {
  return classifyLabel(label) === "dial";
}

// Label words, English first, then a few other languages for per-org rules (their phrase finds the message,
// these read its fields).
const LABEL_WORDS: ReadonlyArray<[LabelClass, string]> = [
  [
    "dial",
    "dial(?:l)?ed|dial ?string|number dial(?:l)?ed|called number|emergency number|number called|gewählt|composé|marcado",
  ],
  [
    "coordinates",
    "coordinates|co-ordinates|lat(?:itude)?|lon(?:g(?:itude)?)?|gps|geo(?:location)?|koordinaten|coordonnées|coordenadas",
  ],
  ["address", "address|adresse|anschrift|dirección|direccion|indirizzo|endereço|adres"],
  ["place", "place|floor|room|building|wing|desk|étage|etage|raum|salle|bâtiment|gebäude|planta|piso|stanza"],
  [
    "location",
    "location|where|site|position|lieu|emplacement|standort|ort|ubicación|ubicacion|posizione|localização|locatie",
  ],
];
const LABEL_PATTERNS = LABEL_WORDS.map(
  ([kind, words]) => [kind, new RegExp(`(?<![\\p{L}])(?:${words})(?![\\p{L}])`, "iu")] as const,
);

function classifyLabel(label: string): LabelClass {
  for (const [kind, pattern] of LABEL_PATTERNS) if (pattern.test(label)) return kind;
  return "other";
}

/**
 * The value of a labelled line plus the lines that continue it: the rest of its paragraph, up to the next
 * labelled line. An empty value ("Location:" alone) takes the next paragraph instead.
 */
function blockAfter(lines: readonly string[], start: number, value: string, used: Set<number>): string[] {
  const block = value === "" ? [] : [value];
  let i = start + 1;
  if (value === "" && lines[i] === "") i++;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "" || LABELLED.test(line) || UNKNOWN_LINE.test(line)) break;
    block.push(line);
    used.add(i);
  }
  return block;
}

// A line that is an address rather than a place: a house number first ("12345 North Main Street", not "4th
// floor"), a postal code, or a street word. A guess, which is why `raw` is always shown beside it.
const HOUSE_NUMBER_FIRST = /^\d+[a-z]?(?:[-/]\d+[a-z]?)?,?\s+\p{L}/iu;
const POSTAL_CODE = /\b\d{4,6}(?:-\d{4})?\b|\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b/;
const STREET_WORD =
  /\b(?:street|st\.|road|rd\.|avenue|ave\.?|boulevard|blvd\.?|lane|drive|way|court|highway|hwy|parkway|terrace|straße|strasse|weg|platz|gasse|allee|rue|chemin|via|viale|calle|avenida|carrer|straat|laan|gatan|vägen|vej)(?=$|[\s,.])/i;

function looksLikeAddress(line: string): boolean {
  return HOUSE_NUMBER_FIRST.test(line) || POSTAL_CODE.test(line) || STREET_WORD.test(line);
}

function splitPlaceAndAddress(block: readonly string[]): { place: string | null; address: string[] } {
  if (block.length === 0) return { place: null, address: [] };
  if (looksLikeAddress(block[0]!)) return { place: null, address: [...block] };
  return { place: block[0]!, address: block.slice(1) };
}

function stripUserEnteredNote(line: string): string {
  return line
    .replace(/\(([^)]*)\)/g, (all, inner: string) => (USER_ENTERED.test(inner) ? "" : all))
    .replace(/\s{2,}/g, " ")
    .trim();
}

const DECIMAL_PAIR =
  /(?<![\d.])(-?\d{1,3}\.\d+)\s*[,;/]?\s+(-?\d{1,3}\.\d+)(?![\d.])|(?<![\d.])(-?\d{1,3}\.\d+),(-?\d{1,3}\.\d+)(?![\d.])/;
const LABELLED_PAIR =
  /\blat(?:itude)?\.?\s*[:=]?\s*(-?\d{1,2}\.\d+)[^\d-]{1,24}?\blon(?:g(?:itude)?)?\.?\s*[:=]?\s*(-?\d{1,3}\.\d+)/i;
const HEMISPHERE_PAIR = /(\d{1,2}\.\d+)\s*°?\s*([NS])\b[\s,;]*(\d{1,3}\.\d+)\s*°?\s*([EW])\b/i;

/** "47.6396, -122.1281", "lat 47.64 long -122.13", "47.64° N, 122.13° W"; null without decimals or out of range. */
export function findCoordinates(text: string): EmergencyLocation["coordinates"] {
  let latitude: number | undefined;
  let longitude: number | undefined;
  const labelled = LABELLED_PAIR.exec(text);
  const hemisphere = labelled ? null : HEMISPHERE_PAIR.exec(text);
  const pair = labelled || hemisphere ? null : DECIMAL_PAIR.exec(text);
  if (labelled) {
    latitude = Number(labelled[1]);
    longitude = Number(labelled[2]);
  } else if (hemisphere) {
    latitude = Number(hemisphere[1]) * (hemisphere[2]!.toUpperCase() === "S" ? -1 : 1);
    longitude = Number(hemisphere[3]) * (hemisphere[4]!.toUpperCase() === "W" ? -1 : 1);
  } else if (pair) {
    latitude = Number(pair[1] ?? pair[3]);
    longitude = Number(pair[2] ?? pair[4]);
  }
  if (latitude === undefined || longitude === undefined) return null;
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) return null;
  if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return null;
  // Microsoft's samples use 0,0 as a placeholder for "no geocode"; nobody calls from Null Island.
  if (latitude === 0 && longitude === 0) return null;
  return { latitude, longitude };
}

function isCoordinatesOnly(line: string): boolean {
  if (findCoordinates(line) === null) return false;
  const rest = line
    .replace(/\b(?:lat(?:itude)?|lon(?:g(?:itude)?)?|coordinates|gps)\b/gi, "")
    .replace(/[-\d.,;:=°()/\s]|\b[NSEW]\b/gi, "");
  return rest === "";
}
