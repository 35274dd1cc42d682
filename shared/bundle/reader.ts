/**
 * Reading a bundle's recording without judging it (the verifier judges).
 * `custody cat`, `play` and `export` and the replay viewer use these.
 */
import { CAST_ENTRY, MAX_CAST_LINE_BYTES, parseEvent, parseHeader, type CastEvent, type CastHeader } from './asciicast.ts';
import { decodeUtf8Strict } from './bytes.ts';
import { FormatError } from './errors.ts';
import { readZip, type ZipCodec, type ZipLimits } from './zip.ts';

/**
 * Yields each complete line of `cast` (without its "\n") as a view, with its
 * 0-based index. A last line without "\n" is torn and is not yielded; `tornBytes`
 * reports its length.
 */
export function* castLines(cast: Uint8Array): Generator<{ index: number; bytes: Uint8Array }, { tornBytes: number }> {
  let start = 0;
  let index = 0;
  while (start < cast.length) {
    const end = cast.indexOf(0x0a, start);
    if (end < 0) return { tornBytes: cast.length - start };
    yield { index, bytes: cast.subarray(start, end) };
    index++;
    start = end + 1;
  }
  return { tornBytes: 0 };
}

function lineText(bytes: Uint8Array, line: number): string {
  if (bytes.length > MAX_CAST_LINE_BYTES) {
    throw new FormatError('line-too-long', `${CAST_ENTRY} line ${line} is ${bytes.length} bytes, over the ${MAX_CAST_LINE_BYTES}-byte limit`, {
      entry: CAST_ENTRY,
      line,
    });
  }
  const text = decodeUtf8Strict(bytes);
  if (text === undefined) throw new FormatError('invalid-utf8', `${CAST_ENTRY} line ${line} is not valid UTF-8`, { entry: CAST_ENTRY, line });
  return text;
}

/** Parses the header and every event, in order. Throws FormatError naming the line. */
export function parseRecording(cast: Uint8Array): { header: CastHeader; events: CastEvent[]; tornBytes: number } {
  const lines = castLines(cast);
  let header: CastHeader | undefined;
  const events: CastEvent[] = [];
  for (;;) {
    const next = lines.next();
    if (next.done === true) {
      if (header === undefined) throw new FormatError('invalid-field', `${CAST_ENTRY} has no header line`, { entry: CAST_ENTRY, line: 1 });
      return { header, events, tornBytes: next.value.tornBytes };
    }
    const { index, bytes } = next.value;
    const text = lineText(bytes, index + 1);
    if (index === 0) header = parseHeader(text);
    else events.push(parseEvent(text, index + 1));
  }
}

export { lineText as castLineText };

/** Opens a bundle and parses its recording. */
export function readRecording(
  bundle: Uint8Array,
  limits?: Partial<ZipLimits>,
  codec?: ZipCodec,
): { header: CastHeader; events: CastEvent[]; tornBytes: number } {
  const entries = readZip(bundle, limits, codec);
  const cast = entries.get(CAST_ENTRY);
  if (cast === undefined) throw new FormatError('entry-missing', `bundle has no ${CAST_ENTRY}`, { entry: CAST_ENTRY });
  return parseRecording(cast);
}

/** The recorded output as plain text (what `custody cat` prints): every output event's data, in order. */
export function outputText(events: readonly CastEvent[]): string {
  let out = '';
  for (const event of events) if (event.code === 'o') out += event.data;
  return out;
}
