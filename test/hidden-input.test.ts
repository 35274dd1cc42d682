/**
 * Keys typed while the program reads without echo are never recorded: not the
 * keys, not their number. Real programs on a real pty: bash's `read -s` and
 * ssh-keygen's passphrase prompt.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readRecording, verifyBundle } from '../shared/bundle/index.ts';
import { nodeSuite } from '../recorder/index.ts';
import { INTERACTIVE_BASH, PROMPT, RecorderFixture, makeTempDir, removeDir, type SessionStep } from './support/recording.ts';

let fixture: RecorderFixture;
let scratch: string;

before(async () => {
  fixture = await RecorderFixture.start();
  scratch = await makeTempDir('custody-hidden-');
});
after(async () => {
  await fixture.close();
  await removeDir(scratch);
});

/** Types `text` one key at a time, as a person does. */
function typed(text: string): SessionStep[] {
  return [...text].map((key) => ({ input: key, pauseMs: 3 }));
}

function recordedText(bytes: Uint8Array): string {
  return readRecording(bytes).events.map((e) => e.data).join('');
}

test('a password typed at a `read -s` prompt leaves one marker and nothing else', async () => {
  const secret = 'Jq4z-Wx8v' + '-Np3k-Tm6y';
  const recorded = await fixture.record({
    ...INTERACTIVE_BASH,
    steps: [
      { waitFor: PROMPT },
      { input: `read -s -p 'Password: ' pw; echo; echo "length \${#pw}"\r`, waitFor: 'Password: ' },
      ...typed(secret),
      { input: '\r', waitFor: 'length' },
      { waitFor: PROMPT },
      { input: 'echo visible-after\r', waitFor: PROMPT },
      { input: 'exit\r' },
    ],
  });
  const events = readRecording(recorded.bytes).events;
  const markers = events.filter((e) => e.code === 'm').map((e) => e.data);
  assert.deepEqual(markers, ['input hidden: echo off'], 'one marker for the whole hidden run');
  const text = recordedText(recorded.bytes);
  for (let i = 0; i + 4 <= secret.length; i++) assert.ok(!text.includes(secret.slice(i, i + 4)), `no fragment "${secret.slice(i, i + 4)}" is recorded`);
  assert.ok(!events.some((e) => e.code === 'i' && e.data === '\r' && events.indexOf(e) < events.findIndex((x) => x.data.includes('length'))), 'not even the Enter that ended the hidden line');
  assert.ok(text.includes('echo visible-after'), 'input is recorded again once echo is back');
  assert.equal(verifyBundle(recorded.bytes, { suite: nodeSuite }).intact, true);
});

test("ssh-keygen's passphrase prompt hides the passphrase", async () => {
  const passphrase = 'qzx7-Vw9m' + '-Lk2p-Hr5t';
  const recorded = await fixture.record({
    ...INTERACTIVE_BASH,
    steps: [
      { waitFor: PROMPT },
      { input: `ssh-keygen -q -t ed25519 -f ${scratch}/id -C test\r`, waitFor: 'passphrase' },
      ...typed(passphrase),
      { input: '\r', waitFor: 'again' },
      ...typed(passphrase),
      { input: '\r', waitFor: PROMPT },
      { input: 'exit\r' },
    ],
  });
  const text = recordedText(recorded.bytes);
  for (let i = 0; i + 4 <= passphrase.length; i++) assert.ok(!text.includes(passphrase.slice(i, i + 4)), `no fragment "${passphrase.slice(i, i + 4)}" is recorded`);
  const markers = readRecording(recorded.bytes).events.filter((e) => e.code === 'm').map((e) => e.data);
  assert.deepEqual(markers, ['input hidden: echo off', 'input hidden: echo off'], 'one marker per prompt');
});
