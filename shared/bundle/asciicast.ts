/**
 * asciicast v3 (https://docs.asciinema.org/manual/asciicast/v3/): a header line
 * (a JSON object) followed by event lines `[interval, code, data]`, where
 * `interval` is seconds since the previous event (v3: relative, never negative).
 */
import { FormatError } from './errors.ts';

export const CAST_ENTRY = 'recording/session.cast';

/** Longest line the recorder writes and the verifier accepts (bytes, without "\n"). */
export const MAX_CAST_LINE_BYTES = 1024 * 1024;

export interface CastHeader {
  readonly version: 3;
  readonly term: { readonly cols: number; readonly rows: number; readonly type?: string };
  readonly timestamp?: number;
  readonly command?: string;
  readonly title?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** o: output, i: input, r: resize "COLSxROWS", m: marker, x: exit status. */
export type EventCode = 'o' | 'i' | 'r' | 'm' | 'x';
const EVENT_CODES: ReadonlySet<string> = new Set(['o', 'i', 'r', 'm', 'x']);

export interface CastEvent {
  /** Seconds since the previous event (the header counts as time 0). */
  readonly interval: number;
  readonly code: EventCode;
  readonly data: string;
}

export function serializeHeader(header: CastHeader): string {
  return JSON.stringify(header);
}

/** Microsecond precision keeps lines short and sums exact enough for replay. */
export function roundInterval(seconds: number): number {
  return Math.max(0, Math.round(seconds * 1e6) / 1e6);
}

export function serializeEvent(event: CastEvent): string {
  return JSON.stringify([roundInterval(event.interval), event.code, event.data]);
}

const RESIZE = /^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new FormatError('invalid-json', `${CAST_ENTRY} line ${line} is not valid JSON`, { entry: CAST_ENTRY, line });
  }
}

function fieldError(line: number, field: string, what: string): FormatError {
  return new FormatError('invalid-field', `${CAST_ENTRY} line ${line} field ${field} ${what}`, {
    entry: CAST_ENTRY,
    line,
    field,
  });
}

function dimension(value: unknown, line: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw fieldError(line, field, 'must be an integer from 1 to 65535');
  }
  return value;
}

/** Parses and checks the header (line 1). */
export function parseHeader(text: string): CastHeader {
  const value = parseJson(text, 1);
  if (!isRecord(value)) throw fieldError(1, '(header)', 'must be a JSON object');
  if (value['version'] !== 3) {
    throw new FormatError(
      'unknown-format-version',
      `${CAST_ENTRY} line 1 declares asciicast version ${JSON.stringify(value['version'])}; only version 3 is supported`,
      { entry: CAST_ENTRY, line: 1, field: 'version' },
    );
  }
  const term = value['term'];
  if (!isRecord(term)) throw fieldError(1, 'term', 'must be an object with cols and rows');
  const header: {
    version: 3;
    term: { cols: number; rows: number; type?: string };
    timestamp?: number;
    command?: string;
    title?: string;
    env?: Record<string, string>;
  } = { version: 3, term: { cols: dimension(term['cols'], 1, 'term.cols'), rows: dimension(term['rows'], 1, 'term.rows') } };
  if (term['type'] !== undefined) {
    if (typeof term['type'] !== 'string') throw fieldError(1, 'term.type', 'must be a string');
    header.term.type = term['type'];
  }
  const timestamp = value['timestamp'];
  if (timestamp !== undefined) {
    if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) {
      throw fieldError(1, 'timestamp', 'must be a non-negative number of seconds');
    }
    header.timestamp = timestamp;
  }
  for (const key of ['command', 'title'] as const) {
    const v = value[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw fieldError(1, key, 'must be a string');
    header[key] = v;
  }
  const env = value['env'];
  if (env !== undefined) {
    if (!isRecord(env)) throw fieldError(1, 'env', 'must be an object of strings');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      if (typeof v !== 'string') throw fieldError(1, `env.${k}`, 'must be a string');
      out[k] = v;
    }
    header.env = out;
  }
  return header;
}

/**
 * Parses and checks one event line. `line` is the 1-based line number used in
 * errors. Time must not run backwards: a negative interval is rejected.
 */
export function parseEvent(text: string, line: number): CastEvent {
  const value = parseJson(text, line);
  if (!Array.isArray(value) || value.length !== 3) {
    throw fieldError(line, '(event)', 'must be an array [interval, code, data]');
  }
  const [interval, code, data] = value as [unknown, unknown, unknown];
  if (typeof interval !== 'number' || !Number.isFinite(interval)) {
    throw fieldError(line, 'interval', 'must be a number of seconds');
  }
  if (interval < 0) {
    throw new FormatError(
      'non-monotonic-time',
      `${CAST_ENTRY} line ${line} goes back in time (interval ${interval} s; asciicast v3 intervals are never negative)`,
      { entry: CAST_ENTRY, line, field: 'interval' },
    );
  }
  if (typeof code !== 'string' || !EVENT_CODES.has(code)) {
    throw new FormatError('unknown-event-code', `${CAST_ENTRY} line ${line} has unknown event code ${JSON.stringify(code)}`, {
      entry: CAST_ENTRY,
      line,
      field: 'code',
    });
  }
  if (typeof data !== 'string') throw fieldError(line, 'data', 'must be a string');
  if (code === 'r') {
    const size = RESIZE.exec(data);
    if (size === null || Number(size[1]) > 65535 || Number(size[2]) > 65535) {
      throw fieldError(line, 'data', `must be "COLSxROWS" (1–65535 each) for a resize, got ${JSON.stringify(data.slice(0, 32))}`);
    }
  }
  if (code === 'x' && !/^-?[0-9]{1,10}$/.test(data)) throw fieldError(line, 'data', 'must be an exit status for an exit event');
  return { interval, code: code as EventCode, data };
}

/**
 * asciicast v2 (absolute times, header `version: 2` with width/height) for older
 * players such as Debian's asciinema 2.2. v2 knows o, i, r and m; the exit
 * event has no v2 equivalent and becomes a marker so that nothing is silently lost.
 */
export function toAsciicastV2(header: CastHeader, events: Iterable<CastEvent>): string {
  const v2Header: Record<string, unknown> = { version: 2, width: header.term.cols, height: header.term.rows };
  if (header.timestamp !== undefined) v2Header['timestamp'] = Math.floor(header.timestamp);
  if (header.command !== undefined) v2Header['command'] = header.command;
  if (header.title !== undefined) v2Header['title'] = header.title;
  const env: Record<string, string> = { ...header.env };
  if (header.term.type !== undefined) env['TERM'] = header.term.type;
  if (Object.keys(env).length > 0) v2Header['env'] = env;
  const lines = [JSON.stringify(v2Header)];
  let time = 0;
  for (const event of events) {
    time += event.interval;
    const at = Math.round(time * 1e6) / 1e6;
    if (event.code === 'x') lines.push(JSON.stringify([at, 'm', `exit ${event.data}`]));
    else lines.push(JSON.stringify([at, event.code, event.data]));
  }
  return lines.join('\n') + '\n';
}
