/**
 * The key gate's rules on hand-made streams (pty clock in milliseconds). The
 * real-pty behaviour is pinned by test/remote-hidden-input.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ECHO_WINDOW_MIN_MS, RawInputGate, type Released } from './raw-input.ts';

/** Feeds keys one per `step` ms, each followed by `echo(key)` after `delay` ms (or nothing). */
function typeAt(gate: RawInputGate, keys: string, start: number, step: number, echo?: { delay: number }): Released[] {
  const out: Released[] = [];
  [...keys].forEach((key, i) => {
    const at = start + i * step;
    out.push(...gate.rawInput(key, at));
    if (echo !== undefined) out.push(...gate.output(key, at + echo.delay));
  });
  return out;
}

const typedText = (released: readonly Released[]): string => released.map((r) => (r.kind === 'input' ? r.text : `<${r.reason}>`)).join('');

test('echoed keys are released before the output that echoes them', () => {
  const gate = new RawInputGate(80);
  gate.output('$ ', 0);
  const out = [...typeAt(gate, 'ls', 10, 40, { delay: 3 }), ...gate.rawInput('\r', 100)];
  assert.equal(typedText(out), 'ls\r');
});

test('a password after a prompt is one marker, the Enter included; the next line is recorded', () => {
  const gate = new RawInputGate(80);
  gate.output('\r\n[sudo] password for alice: ', 0);
  const out = [...typeAt(gate, 'hunter2', 10, 40), ...gate.rawInput('\r', 400), ...gate.output('\r\n$ ', 410)];
  out.push(...typeAt(gate, 'id', 500, 40, { delay: 2 }), ...gate.rawInput('\r', 600), ...gate.expire(5000));
  assert.equal(typedText(out), '<password-prompt>id\r');
});

test('unechoed keys without a prompt become hidden when their window passes, one marker per run', () => {
  const gate = new RawInputGate(80);
  gate.output('\r\n', 0);
  const out = [...typeAt(gate, 'abc', 10, 60), ...gate.rawInput('\r', 200), ...gate.expire(200 + ECHO_WINDOW_MIN_MS + 1)];
  assert.equal(typedText(out), '<no-echo>');
});

test("what a program prints after the Enter is not the echo of the keys typed before it", () => {
  const gate = new RawInputGate(80);
  gate.output('\r\n', 0);
  // Typed fast, within one window: nothing is judged before the answer arrives.
  const out = [...typeAt(gate, 'ac', 10, 10), ...gate.rawInput('\r', 30), ...gate.output('\r\nalice@host:~$ ', 60), ...gate.expire(1000)];
  assert.equal(typedText(out), '<no-echo>', '"alice" holds both characters, but only after the line break');
});

test('a fast line over a slow link is confirmed by its echo arriving after the Enter, before the line break', () => {
  const gate = new RawInputGate(80);
  gate.output('$ ', 0);
  const out = [...typeAt(gate, 'ls', 10, 20), ...gate.rawInput('\r', 50), ...gate.output('ls\r\nfile\r\n$ ', 120), ...gate.expire(1000)];
  assert.equal(typedText(out), 'ls\r');
});

test('a line the user is typing is not a prompt, even when it reads like one', () => {
  const gate = new RawInputGate(80);
  gate.output('$ ', 0);
  const out = [...typeAt(gate, 'grep password: notes', 10, 30, { delay: 2 }), ...gate.rawInput('\r', 700), ...gate.expire(5000)];
  assert.equal(typedText(out), 'grep password: notes\r');
});

test('arrows and Ctrl keys are never hidden, even inside a hidden run; editing keys follow the run', () => {
  const gate = new RawInputGate(80);
  gate.output('\r\nPassword: ', 0);
  const out = [...gate.rawInput('ab', 10), ...gate.rawInput('\x7f', 20), ...gate.rawInput('\x1b[D', 30), ...gate.rawInput('\r', 40)];
  out.push(...gate.output('\r\n$ ', 50), ...gate.rawInput('\x1b[A', 60), ...gate.rawInput('\x0c', 70));
  assert.equal(typedText(out), '<password-prompt>\x1b[D\x1b[A\x0c');
});

test('the echo window grows with the round trip seen, within its bounds', () => {
  const gate = new RawInputGate(80);
  assert.equal(gate.windowMs, ECHO_WINDOW_MIN_MS);
  gate.output('$ ', 0);
  typeAt(gate, 'x', 10, 10, { delay: 120 });
  assert.equal(gate.windowMs, 360);
});
