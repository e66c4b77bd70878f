// Plain text from the HTML of a Teams chat message body: what detection rules and alerts read. Teams bodies are
// small fragments (paragraphs, <div>, <br>, <at> mentions, reply quotes, emoji images), not documents, so a
// tolerant tokenizer is enough; nothing here needs to render arbitrary HTML faithfully.

export interface HtmlToTextOptions {
  /**
   * `drop` (default) leaves quoted text out: a Teams reply quotes the message it answers in a <blockquote>, and
   * quoted words are someone else's. `keep` keeps them as lines starting with "> ".
   */
  quotes?: "drop" | "keep";
}

// Elements that start a new paragraph in the text; <br> only starts a new line.
const BLOCKS = new Set([
  "p",
  "div",
  "li",
  "ul",
  "ol",
  "tr",
  "table",
  "thead",
  "tbody",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "pre",
  "hr",
  "section",
  "article",
  "header",
  "footer",
  "blockquote",
]);
const CELLS = new Set(["td", "th"]);
const SKIPPED = new Set(["script", "style", "head", "title", "template"]);

// A comment, a tag (attribute values may contain ">"), or a run of text. A lone "<" is text.
const TOKEN = /<!--[\s\S]*?(?:-->|$)|<(\/?)([a-zA-Z][\w:-]*)((?:"[^"]*"|'[^']*'|[^'">])*)>|[^<]+|</g;

/**
 * `<p>Pat &amp; Co has placed an Emergency Call</p><p>Location: 4th floor<br>1 Main St</p>` ->
 * "Pat & Co has placed an Emergency Call\n\nLocation: 4th floor\n1 Main St". Paragraphs are separated by one
 * blank line, <br> ends a line, entities are decoded, whitespace is collapsed within each line.
 */
export function htmlToText(html: string, options: HtmlToTextOptions = {}): string {
  const keepQuotes = options.quotes === "keep";
  const lines: Array<{ text: string; quoted: boolean } | "break"> = [];
  let current = "";
  let quoteDepth = 0;
  let skipping: string | undefined;

  const endLine = () => {
    const text = normalizeLine(current);
    current = "";
    if (text !== "") lines.push({ text, quoted: quoteDepth > 0 });
  };
  const endParagraph = () => {
    endLine();
    if (lines.at(-1) !== "break") lines.push("break");
  };

  for (const match of html.matchAll(TOKEN)) {
    const [token, closing, rawName] = match;
    if (token.startsWith("<!--")) continue;
    if (rawName === undefined) {
      if (skipping !== undefined) continue;
      current += decodeEntities(token);
      continue;
    }
    const name = rawName.toLowerCase();
    if (skipping !== undefined) {
      if (closing && name === skipping) skipping = undefined;
      continue;
    }
    if (SKIPPED.has(name)) {
      if (!closing && !token.endsWith("/>")) skipping = name;
      continue;
    }
    if (name === "br") {
      endLine();
    } else if (BLOCKS.has(name)) {
      endParagraph();
      if (name === "blockquote") quoteDepth = Math.max(0, quoteDepth + (closing ? -1 : 1));
    } else if (CELLS.has(name)) {
      current += " ";
    }
  }
  endLine();

  const out: string[] = [];
  for (const line of lines) {
    if (line === "break") {
      if (out.length > 0 && out.at(-1) !== "") out.push("");
      continue;
    }
    if (line.quoted && !keepQuotes) continue;
    out.push(line.quoted ? `> ${line.text}` : line.text);
  }
  while (out.at(-1) === "") out.pop();
  return out.join("\n");
}

/** Plain-text bodies (`contentType: "text"`): the same line normalisation, newlines kept as line breaks. */
export function plainTextLines(text: string): string {
  const out: string[] = [];
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = normalizeLine(raw);
    if (line !== "" || (out.length > 0 && out.at(-1) !== "")) out.push(line);
  }
  while (out.at(-1) === "") out.pop();
  return out.join("\n");
}

// No-break and typographic spaces count as spaces; zero-width characters and soft hyphens are invisible in
// Teams and would only break phrase matching.
const SPACES = /[\s\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
const INVISIBLE = /[\u200b-\u200d\u2060\ufeff\u00ad]/g;

function normalizeLine(line: string): string {
  return line.replace(INVISIBLE, "").replace(SPACES, " ").trim();
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  ensp: " ",
  emsp: " ",
  thinsp: " ",
  ndash: "\u2013",
  mdash: "\u2014",
  hellip: "\u2026",
  lsquo: "\u2018",
  rsquo: "\u2019",
  ldquo: "\u201c",
  rdquo: "\u201d",
  laquo: "\u00ab",
  raquo: "\u00bb",
  middot: "\u00b7",
  bull: "\u2022",
  deg: "\u00b0",
  copy: "\u00a9",
  reg: "\u00ae",
  trade: "\u2122",
  euro: "\u20ac",
  pound: "\u00a3",
  shy: "\u00ad",
  zwnj: "\u200c",
  zwj: "\u200d",
};

const ENTITY = /&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,7})|([a-zA-Z][a-zA-Z0-9]{1,31}));/g;

function decodeEntities(text: string): string {
  return text.replace(ENTITY, (entity, decimal?: string, hex?: string, name?: string) => {
    if (name !== undefined) return NAMED_ENTITIES[name] ?? NAMED_ENTITIES[name.toLowerCase()] ?? entity;
    const code = decimal !== undefined ? Number.parseInt(decimal, 10) : Number.parseInt(hex!, 16);
    // NUL, surrogates and values beyond Unicode are not characters: HTML decodes them as U+FFFD.
    if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return "\ufffd";
    return String.fromCodePoint(code);
  });
}
