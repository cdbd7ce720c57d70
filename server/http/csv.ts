/**
 * CSV as spreadsheets read it: RFC 4180 quoting, and every cell that starts with =, +, -, @, a
 * tab or a carriage return prefixed with a single quote, so a spreadsheet shows it as text and
 * never runs it as a formula (OWASP "CSV injection"). Numbers with a sign are prefixed too: a
 * quoted "-1" still reads as -1 to a person, and no cell is trusted by its look.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export const csvLine = (cells: readonly string[]) => `${cells.map(csvCell).join(",")}\r\n`;
