/**
 * Keys typed into a program that holds the local pty in raw mode (as ssh
 * does) are judged by the screen and by their echo, since the local ECHO flag
 * says nothing there. The program is a small stand-in for a remote shell: it
 * puts its tty in raw mode, echoes what is typed at its own prompt, asks for a
 * password like sudo does, and reads a line silently without any prompt.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readRecording, verifyBundle, type CastEvent } from '../shared/bundle/index.ts';
import { nodeSuite } from '../recorder/index.ts';
import { RecorderFixture, type SessionStep } from './support/recording.ts';

/** A remote shell in miniature: raw tty, its own echo, sudo's prompt, and a silent read. */
const REMOTE_SHELL = String.raw`
import os, sys, termios, tty
fd = sys.stdin.fileno()
saved = termios.tcgetattr(fd)
tty.setraw(fd)
def out(text): os.write(1, text.encode())
def read_line(echo):
    line = ''
    while True:
        data = os.read(fd, 64).decode()
        i = 0
        while i < len(data):
            c = data[i]
            if c == '\x1b':                  # an escape sequence: swallow it whole, show nothing
                i += 1
                if i < len(data) and data[i] in '[O':
                    i += 1
                    while i < len(data) and not ('@' <= data[i] <= '~'): i += 1
                i += 1
                continue
            i += 1
            if c in '\r\n': return line
            if c == '\x7f':
                if line:
                    line = line[:-1]
                    if echo: out('\b \b')
            elif c >= ' ':
                line += c
                if echo: out(c)
try:
    while True:
        out('remote$ ')
        cmd = read_line(True)
        out('\r\n')
        if cmd == 'exit': break
        if cmd.startswith('sudo '):
            out('[sudo] password for alice: ')
            read_line(False)
            out('\r\nok\r\n')
        elif cmd == 'silent':
            read_line(False)
            out('\r\nok\r\n')
        else:
            out('ran ' + cmd + '\r\n')
finally:
    termios.tcsetattr(fd, termios.TCSADRAIN, saved)
`;

const REMOTE = { command: 'python3', args: ['-c', REMOTE_SHELL] } as const;
const REMOTE_PROMPT = 'remote$ ';

let fixture: RecorderFixture;

before(async () => {
  fixture = await RecorderFixture.start();
});
after(async () => {
  await fixture.close();
});

/** Types `text` one key at a time, as a person does. */
function typed(text: string, pauseMs = 40): SessionStep[] {
  return [...text].map((key) => ({ input: key, pauseMs }));
}

/** Types a command at the remote prompt and waits for its answer. */
function command(text: string, waitFor: string): SessionStep[] {
  return [...typed(text), { input: '\r', waitFor }];
}

function events(bytes: Uint8Array): readonly CastEvent[] {
  return readRecording(bytes).events;
}

function markers(bytes: Uint8Array): string[] {
  return events(bytes)
    .filter((e) => e.code === 'm')
    .map((e) => e.data);
}

function typedKeys(bytes: Uint8Array): string {
  return events(bytes)
    .filter((e) => e.code === 'i')
    .map((e) => e.data)
    .join('');
}

/** Neither the secret nor any 5-character piece of it is in any event, of any kind. */
function assertNoFragment(bytes: Uint8Array, secret: string): void {
  const all = events(bytes)
    .map((e) => e.data)
    .join('\n');
  for (let i = 0; i + 5 <= secret.length; i++) {
    const fragment = secret.slice(i, i + 5);
    assert.ok(!all.includes(fragment), `no fragment "${fragment}" of the secret is recorded`);
  }
}

test("a password typed at sudo's prompt in a raw-mode program leaves one `password prompt` marker and nothing else", async () => {
  const password = 'Hv7q-Rk2m' + '-Zt9w-Lp4x';
  const recorded = await fixture.record({
    ...REMOTE,
    steps: [
      { waitFor: REMOTE_PROMPT },
      ...command('sudo whoami', 'password for alice: '),
      ...typed(password),
      { input: '\r', waitFor: 'ok' },
      { waitFor: REMOTE_PROMPT },
      ...command('echo hello-remote', 'ran echo hello-remote'),
      { waitFor: REMOTE_PROMPT },
      { input: 'exit\r' },
    ],
  });
  assertNoFragment(recorded.bytes, password);
  assert.deepEqual(markers(recorded.bytes), ['input hidden: password prompt'], 'one marker for the whole password, not one per key');
  const keys = typedKeys(recorded.bytes);
  assert.ok(keys.includes('sudo whoami\r'), 'the echoed command before the prompt is recorded');
  assert.ok(keys.includes('echo hello-remote\r'), 'an echoed command typed after the prompt is recorded');
  assert.ok(!keys.includes('whoami\r\r'), "not even the Enter that ended the password is recorded");
  const marker = events(recorded.bytes).findIndex((e) => e.code === 'm');
  const ok = events(recorded.bytes).findIndex((e) => e.code === 'o' && e.data.includes('ok'));
  assert.ok(marker >= 0 && marker < ok, 'the marker sits where the password was typed');
  assert.equal(verifyBundle(recorded.bytes, { suite: nodeSuite }).intact, true);
});

test('keys a raw-mode program never echoes, with no prompt on screen, leave one `no echo` marker', async () => {
  const secret = 'mW3k-Jx8r' + '-Qd5n-Vb2t';
  const recorded = await fixture.record({
    ...REMOTE,
    steps: [
      { waitFor: REMOTE_PROMPT },
      ...command('silent', '\r\n'),
      { pauseMs: 50 },
      ...typed(secret),
      { input: '\r', waitFor: 'ok' },
      { waitFor: REMOTE_PROMPT },
      ...command('echo after-silence', 'ran echo after-silence'),
      { waitFor: REMOTE_PROMPT },
      { input: 'exit\r' },
    ],
  });
  assertNoFragment(recorded.bytes, secret);
  assert.deepEqual(markers(recorded.bytes), ['input hidden: no echo']);
  const keys = typedKeys(recorded.bytes);
  assert.ok(keys.includes('silent\r'), 'the echoed command is recorded');
  assert.ok(keys.includes('echo after-silence\r'), 'keys are recorded again once they are echoed');
});

test('arrows and Ctrl keys in a raw-mode program are recorded, never hidden, though they are not echoed', async () => {
  const recorded = await fixture.record({
    ...REMOTE,
    steps: [
      { waitFor: REMOTE_PROMPT },
      { input: '\x1b[A', pauseMs: 40 },
      { input: '\x1b[D', pauseMs: 40 },
      { input: '\x1bOB', pauseMs: 40 },
      { input: '\x01', pauseMs: 40 },
      { input: '\x0c', pauseMs: 40 },
      ...command('echo keys-done', 'ran echo keys-done'),
      { waitFor: REMOTE_PROMPT },
      { input: 'exit\r' },
    ],
  });
  assert.deepEqual(markers(recorded.bytes), [], 'nothing is hidden');
  assert.equal(typedKeys(recorded.bytes), '\x1b[A\x1b[D\x1bOB\x01\x0cecho keys-done\rexit\r', 'every key, in order');
});
