// CSV for spreadsheets (RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted, quotes
// doubled). A caller's name or a typed location is attacker-controlled text: a cell starting with =, +, -, @
// (or a tab or carriage return) would run as a formula in Excel or LibreOffice, so it gets a leading single
// quote (OWASP "CSV injection").

export type CsvCell = string | number | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return "";
  // Numbers are ours (counts, seconds), never formulas: a negative one stays a number.
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The rows (the first is the header) as one CSV text, CRLF after every row. */
export function toCsv(rows: readonly (readonly CsvCell[])[]): string {
  return rows.map((row) => row.map(csvCell).join(",") + "\r\n").join("");
}
