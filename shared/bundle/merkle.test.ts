import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { concatBytes, fromHex, toHex } from './bytes.ts';
import { nobleSuite, type CryptoSuite } from './crypto.ts';
import { MerkleAccumulator, leafHash, merkleTreeHash, nodeHash } from './merkle.ts';
import { xorshift32 } from '../test-random.ts';

/**
 * An independent SHA-256 (OpenSSL through node:crypto), written here rather than
 * imported from recorder/, so that the tree is pinned against a second hash
 * implementation as well as against nobleSuite.
 */
const opensslSuite: CryptoSuite = {
  sha256(...parts) {
    const hash = createHash('sha256');
    for (const part of parts) hash.update(part);
    return new Uint8Array(hash.digest());
  },
  ed25519Verify: () => false,
};

const SUITES: readonly [string, CryptoSuite][] = [
  ['nobleSuite', nobleSuite],
  ['node:crypto suite', opensslSuite],
];

/** RFC 6962 / Certificate Transparency reference inputs and tree heads for sizes 0..8. */
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => fromHex(h)!);
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** Deterministic pseudo-random leaves (xorshift32), lengths 0..47, so a failure reproduces. */
function randomLeaves(count: number, seed: number): Uint8Array[] {
  const next = xorshift32(seed);
  return Array.from({ length: count }, () => {
    const leaf = new Uint8Array(next() % 48);
    for (let i = 0; i < leaf.length; i++) leaf[i] = next() & 255;
    return leaf;
  });
}

for (const [name, suite] of SUITES) {
  describe(`Merkle tree (RFC 9162 §2.1) with ${name}`, () => {
    test('the accumulator root equals the recursive reference MTH at every size 0..300', () => {
      const leaves = randomLeaves(300, 0x9162);
      const acc = new MerkleAccumulator(suite);
      assert.equal(toHex(acc.root()), toHex(merkleTreeHash(suite, [])), 'size 0');
      for (let n = 1; n <= leaves.length; n++) {
        acc.appendLine(leaves[n - 1]!);
        assert.equal(acc.size, n);
        assert.equal(toHex(acc.root()), toHex(merkleTreeHash(suite, leaves.slice(0, n))), `size ${n}`);
      }
    });

    test('appendLeafHash(leafHash(x)) builds the same tree as appendLine(x)', () => {
      const leaves = randomLeaves(37, 7);
      const byLine = new MerkleAccumulator(suite);
      const byHash = new MerkleAccumulator(suite);
      for (const leaf of leaves) {
        byLine.appendLine(leaf);
        byHash.appendLeafHash(leafHash(suite, leaf));
        assert.equal(toHex(byHash.root()), toHex(byLine.root()));
      }
    });

    test('the reference MTH and the accumulator reproduce the RFC 6962 test vectors for sizes 0..8', () => {
      const acc = new MerkleAccumulator(suite);
      assert.equal(toHex(acc.root()), CT_ROOTS[0]);
      for (let n = 1; n <= CT_LEAVES.length; n++) {
        acc.appendLine(CT_LEAVES[n - 1]!);
        assert.equal(toHex(acc.root()), CT_ROOTS[n], `accumulator, size ${n}`);
        assert.equal(toHex(merkleTreeHash(suite, CT_LEAVES.slice(0, n))), CT_ROOTS[n], `reference, size ${n}`);
      }
    });

    test('the empty tree hashes to SHA-256("")', () => {
      const empty = opensslSuite.sha256();
      assert.equal(toHex(new MerkleAccumulator(suite).root()), toHex(empty));
      assert.equal(toHex(merkleTreeHash(suite, [])), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    });

    test('leaf = SHA-256(0x00 ‖ line), node = SHA-256(0x01 ‖ left ‖ right)', () => {
      const line = new TextEncoder().encode('[0.5,"o","hi"]');
      assert.equal(toHex(leafHash(suite, line)), toHex(opensslSuite.sha256(new Uint8Array([0]), line)));
      const a = leafHash(suite, new Uint8Array([1]));
      const b = leafHash(suite, new Uint8Array([2]));
      assert.equal(toHex(nodeHash(suite, a, b)), toHex(opensslSuite.sha256(new Uint8Array([1]), a, b)));
    });

    test('domain separation: a leaf whose bytes are two hashes does not collide with their node', () => {
      const a = leafHash(suite, new TextEncoder().encode('left'));
      const b = leafHash(suite, new TextEncoder().encode('right'));
      const forged = concatBytes([a, b]);
      assert.notEqual(toHex(leafHash(suite, forged)), toHex(nodeHash(suite, a, b)));
      // A one-leaf tree over a‖b is not the two-leaf tree over a and b either.
      assert.notEqual(toHex(merkleTreeHash(suite, [forged])), toHex(nodeHash(suite, a, b)));
      // Nor is an empty leaf the empty tree.
      assert.notEqual(toHex(leafHash(suite, new Uint8Array(0))), toHex(merkleTreeHash(suite, [])));
    });
  });
}

describe('Merkle tree properties (fast-check)', () => {
  test('the accumulator agrees with the reference for any leaves', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 70 }), (leaves) => {
        const acc = new MerkleAccumulator(nobleSuite);
        for (const leaf of leaves) acc.appendLine(leaf);
        assert.equal(toHex(acc.root()), toHex(merkleTreeHash(nobleSuite, leaves)));
      }),
      { numRuns: 200 },
    );
  });

  test('changing any one leaf changes the root', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 16 }), { minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 4 }),
        (leaves, pick, extra) => {
          const index = pick % leaves.length;
          const changed: Uint8Array[] = leaves.slice();
          changed[index] = concatBytes([leaves[index]!, extra]);
          assert.notEqual(toHex(merkleTreeHash(nobleSuite, changed)), toHex(merkleTreeHash(nobleSuite, leaves)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
