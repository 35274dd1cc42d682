/**
 * The text of a recording that search indexes: the output events' data (already redacted by the
 * recorder before it was hashed), with terminal escape sequences and other control characters
 * removed, so that `kubectl get pods` is found however it was coloured. Input events are not
 * indexed: what matters is what the session showed, and hidden input is never stored anyway.
 */
import type { CastEvent } from '../../shared/bundle/asciicast.ts';
import { parseRecording } from '../../shared/bundle/reader.ts';
import { ESCAPE } from '../../shared/redaction/line-view.ts';

// C0 controls other than tab and newline, and DEL: cursor motion leftovers, bells.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this removes
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

export function plainText(output: string): string {
  return output.replace(ESCAPE, '').replace(/\r\n?/g, '\n').replace(CONTROLS, '');
}

/**
 * Collects the output of events as something else parses them (ingest: the verifier's onEvent),
 * so that the recording is parsed once. The escapes are removed from the whole output at the
 * end, not per event: a pty read may end inside an escape sequence.
 */
export class SessionTextCollector {
  readonly #outputs: string[] = [];

  readonly onEvent = (event: CastEvent): void => {
    if (event.code === 'o') this.#outputs.push(event.data);
  };

  text(): string {
    return plainText(this.#outputs.join(''));
  }
}

/** The indexable text of a verified recording's `session.cast` bytes. */
export function sessionText(cast: Uint8Array): string {
  const collector = new SessionTextCollector();
  for (const event of parseRecording(cast).events) collector.onEvent(event);
  return collector.text();
}
