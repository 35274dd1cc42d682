import assert from 'node:assert/strict';
import { test } from 'node:test';
import { utf8 } from '../shared/bundle/bytes.ts';
import { SESSION_KEY, STRANGER_KEY } from '../shared/bundle/test-support.ts';
import { deferredVerifySuite, nodeSuite } from './crypto.ts';

test('deferredVerifySuite: answers valid at once, and allValid says whether every signature really was', async () => {
  const message = utf8('custody checkpoint\n');
  const good = SESSION_KEY.sign(message);
  const valid = deferredVerifySuite();
  assert.equal(valid.suite.ed25519Verify(SESSION_KEY.publicKey, message, good), true);
  assert.equal(await valid.allValid(), true);

  const forged = deferredVerifySuite();
  assert.equal(forged.suite.ed25519Verify(SESSION_KEY.publicKey, message, good), true);
  assert.equal(forged.suite.ed25519Verify(SESSION_KEY.publicKey, message, STRANGER_KEY.sign(message)), true);
  assert.equal(await forged.allValid(), false);
  assert.equal(nodeSuite.ed25519Verify(SESSION_KEY.publicKey, message, STRANGER_KEY.sign(message)), false);

  // Malformed input is refused at once, as nodeSuite does.
  const short = deferredVerifySuite();
  assert.equal(short.suite.ed25519Verify(SESSION_KEY.publicKey.subarray(0, 31), message, good), false);
  assert.equal(await short.allValid(), true);
});

test('deferredVerifySuite: past its limit of pending checks it checks at once, so a forged signature there is answered invalid', async () => {
  const message = utf8('custody checkpoint\n');
  const good = SESSION_KEY.sign(message);
  const forged = STRANGER_KEY.sign(message);
  const deferred = deferredVerifySuite();
  for (let i = 0; i < 16_384; i++) assert.equal(deferred.suite.ed25519Verify(SESSION_KEY.publicKey, message, good), true);
  assert.equal(deferred.suite.ed25519Verify(SESSION_KEY.publicKey, message, forged), false);
  assert.equal(deferred.suite.ed25519Verify(SESSION_KEY.publicKey, message, good), true);
  assert.equal(await deferred.allValid(), true);
});
