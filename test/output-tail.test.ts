/**
 * A program's last output, printed just before it exits, is shown and recorded. On Linux the
 * master read can end at the hang-up while the pty still holds that output (microsoft/node-pty#85);
 * the recorder holds a slave fd until node-pty reports the exit (recorder/termios `holdPtySlave`),
 * so the read drains it. Without that, `npm run bench -- throughput` lost the tail in 1–3 runs of
 * 3 on this machine; this test repeats a large burst that ends the instant the program exits.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readRecording } from '../shared/bundle/index.ts';
import { RecorderFixture } from './support/recording.ts';

let fixture: RecorderFixture;
before(async () => {
  fixture = await RecorderFixture.start();
});
after(() => fixture.close());

const ROUNDS = 6;
const BURST_BYTES = 4_000_000;

test('the last output before the exit is in the display and the recording, round after round', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const end = `END-OF-OUTPUT-${round}`;
    const recorded = await fixture.record({
      command: 'bash',
      args: ['-c', `head -c ${BURST_BYTES} /dev/zero | tr '\\0' 'x'; printf '\\n${end}\\n'`],
      timeoutMs: 60_000,
    });
    assert.equal(recorded.exitCode, 0);
    assert.ok(recorded.output.includes(end), `round ${round}: the display lost the tail (${recorded.output.length} characters shown)`);
    const recording = readRecording(recorded.bytes).events.filter((e) => e.code === 'o').map((e) => e.data).join('');
    assert.ok(recording.includes(end), `round ${round}: the recording lost the tail`);
    assert.equal((recording.match(/x/g) ?? []).length, BURST_BYTES, `round ${round}: every byte of the burst is recorded`);
  }
});
