import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { devRedactionKey, fingerprint } from './fingerprint.ts';
import {
  hiddenInputMarker,
  markerLabel,
  parseMarker,
  redactionMarker,
  type HiddenInputReason,
  type Marker,
} from './markers.ts';

const key = devRedactionKey('markers test');
const ruleIdArb = fc.stringMatching(/^[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,4}$/);
const fingerprintArb = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), fc.stringMatching(/^[0-9a-f]{32}$/))
  .map(([keyId, hex]) => `${keyId}:${hex}`);
const markerArb: fc.Arbitrary<Marker> = fc.oneof(
  fc.record({ kind: fc.constant('redacted' as const), ruleId: ruleIdArb, fingerprint: fingerprintArb }),
  fc.record({
    kind: fc.constant('input-hidden' as const),
    reason: fc.constantFrom<HiddenInputReason>('echo-off', 'password-prompt', 'no-echo'),
  }),
);

describe('redaction markers', () => {
  test('read `redacted <ruleId> <keyId>:<hex>`', () => {
    const print = fingerprint(key, 'ghp_16C7e42F292c6912E7710c838347Ae178B4a');
    const label = redactionMarker('github-pat', print);
    assert.equal(label, `redacted github-pat ${print}`);
    assert.deepEqual(parseMarker(label), { kind: 'redacted', ruleId: 'github-pat', fingerprint: print });
  });

  test('hidden input reads exactly `input hidden: echo off`, `…: password prompt`, `…: no echo`', () => {
    assert.equal(hiddenInputMarker('echo-off'), 'input hidden: echo off');
    assert.equal(hiddenInputMarker('password-prompt'), 'input hidden: password prompt');
    assert.equal(hiddenInputMarker('no-echo'), 'input hidden: no echo');
    assert.deepEqual(parseMarker('input hidden: password prompt'), { kind: 'input-hidden', reason: 'password-prompt' });
  });

  test('every marker round trips through its label', () => {
    fc.assert(
      fc.property(markerArb, (marker) => {
        const label = markerLabel(marker);
        assert.deepEqual(parseMarker(label), { ...marker });
        assert.equal(markerLabel(parseMarker(label)!), label);
      }),
      { numRuns: 500 },
    );
  });

  test('a label carries the rule id and the fingerprint and nothing else', () => {
    fc.assert(
      fc.property(ruleIdArb, fc.string({ maxLength: 40 }), (ruleId, secret) => {
        const label = redactionMarker(ruleId, fingerprint(key, secret));
        assert.match(label, /^redacted [a-z0-9-]{1,64} [A-Za-z0-9._-]{1,64}:[0-9a-f]{32}$/);
        assert.equal(label.split(' ').length, 3);
      }),
    );
  });

  test('builders refuse anything that would carry more than a rule id and a fingerprint', () => {
    const print = fingerprint(key, 'secret');
    for (const ruleId of ['', 'GitHub-PAT', 'rule id', 'rule\nid', 'a--b', '-a', 'x'.repeat(65), 'ghp_abc']) {
      assert.throws(() => redactionMarker(ruleId, print), /rule id/, ruleId);
    }
    for (const bad of ['', 'secret', `${print} len=40`, `${print}0`, print.toUpperCase(), 'k:' + 'a'.repeat(31), 'a b:' + 'a'.repeat(32)]) {
      assert.throws(() => redactionMarker('github-pat', bad), /fingerprint/, bad);
    }
  });

  test('parseMarker rejects labels that are not exactly ours', () => {
    const print = fingerprint(key, 'secret');
    for (const label of [
      '',
      'chapter 2',
      'redacted',
      'redacted github-pat',
      `redacted github-pat ${print} 40`,
      `redacted  github-pat ${print}`,
      `redacted github-pat ${print} `,
      `Redacted github-pat ${print}`,
      `redacted GitHub ${print}`,
      'redacted github-pat ghp_16C7e42F292c6912E7710c838347Ae178B4a',
      'input hidden: echo off ',
      'input hidden: 12 chars',
      'input hidden:',
    ]) {
      assert.equal(parseMarker(label), undefined, JSON.stringify(label));
    }
  });

  test('parseMarker never throws, whatever the label', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (label) => void parseMarker(label)));
  });
});
