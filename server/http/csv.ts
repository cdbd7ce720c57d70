/**
 * CSV cells for spreadsheets. OWASP's CSV-injection rule: a cell that begins with =, +, -, @, a
 * tab or a carriage return may be run as a formula, so such a cell gets a leading single quote.
 * Decision: the rule applies to text a caller chose (event ids, client ids), whatever follows
 * the first character ("-2+3+cmd|…" is a formula however numeric it starts). What the server
 * formats itself (decimal amounts, instants, enum values) cannot hold a formula and is written
 * as it is, so a spreadsheet still reads an amount such as "-1.5" as a number.
 */

/** RFC 4180: a cell with a comma, a quote or a line break is quoted, its quotes doubled. */
export function valueCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function textCell(value: string): string {
  return valueCell(/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
}

export const csvLine = (cells: readonly string[]) => `${cells.join(",")}\r\n`;
