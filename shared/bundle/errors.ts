/**
 * Errors raised by the format code. Every error names where the problem is
 * (the zip entry, the line, the field) so that a person can act on it:
 * `bundle.custody: recording/session.cast line 1841 is not valid JSON`.
 */

export type FormatErrorCode =
  | 'zip-malformed'
  | 'zip-unsafe-path'
  | 'zip-symlink'
  | 'zip-duplicate-entry'
  | 'zip-bomb'
  | 'zip-unsupported'
  | 'zip-crc-mismatch'
  | 'entry-missing'
  | 'entry-unexpected'
  | 'line-too-long'
  | 'invalid-utf8'
  | 'invalid-json'
  | 'invalid-field'
  | 'unknown-event-code'
  | 'non-monotonic-time'
  | 'unknown-format-version'
  | 'note-malformed';

export interface FormatErrorLocation {
  /** zip entry name, e.g. `recording/session.cast` */
  readonly entry?: string;
  /** 1-based line number inside the entry */
  readonly line?: number;
  /** dotted field path inside a JSON value, e.g. `term.cols` */
  readonly field?: string;
}

export class FormatError extends Error {
  readonly code: FormatErrorCode;
  readonly location: FormatErrorLocation;

  constructor(code: FormatErrorCode, message: string, location: FormatErrorLocation = {}) {
    super(message);
    this.name = 'FormatError';
    this.code = code;
    this.location = location;
  }
}

/** `recording/session.cast line 12` — the prefix used in messages. */
export function describeLocation(location: FormatErrorLocation): string {
  const parts: string[] = [];
  if (location.entry !== undefined) parts.push(location.entry);
  if (location.line !== undefined) parts.push(`line ${location.line}`);
  if (location.field !== undefined) parts.push(`field ${location.field}`);
  return parts.join(' ');
}
