/**
 * RFC 9162 §2.1 Merkle Tree Hash over the lines of a recording.
 *
 *   leaf  = SHA-256(0x00 ‖ line bytes)          (RFC 9162 §2.1.1; the line without its "\n")
 *   node  = SHA-256(0x01 ‖ left ‖ right)
 *   empty = SHA-256("")
 *
 * The accumulator keeps only the roots of the perfect subtrees that cover the
 * prefix (a "compact range"), so memory is O(log n) however long a session runs.
 */
import type { CryptoSuite } from './crypto.ts';

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

export function leafHash(suite: CryptoSuite, line: Uint8Array): Uint8Array {
  return suite.sha256(LEAF_PREFIX, line);
}

export function nodeHash(suite: CryptoSuite, left: Uint8Array, right: Uint8Array): Uint8Array {
  return suite.sha256(NODE_PREFIX, left, right);
}

export class MerkleAccumulator {
  readonly #suite: CryptoSuite;
  /** Roots of perfect subtrees, largest first; `heights[i]` is log2 of the subtree's leaf count. */
  readonly #hashes: Uint8Array[] = [];
  readonly #heights: number[] = [];
  #size = 0;

  constructor(suite: CryptoSuite) {
    this.#suite = suite;
  }

  get size(): number {
    return this.#size;
  }

  /** Appends one line (hashes it as a leaf). */
  appendLine(line: Uint8Array): void {
    this.appendLeafHash(leafHash(this.#suite, line));
  }

  appendLeafHash(hash: Uint8Array): void {
    let h = hash;
    let height = 0;
    while (this.#heights.length > 0 && this.#heights[this.#heights.length - 1] === height) {
      this.#heights.pop();
      h = nodeHash(this.#suite, this.#hashes.pop()!, h);
      height++;
    }
    this.#hashes.push(h);
    this.#heights.push(height);
    this.#size++;
  }

  /** MTH of all leaves so far: the perfect subtrees folded right to left (RFC 9162 §2.1.1 split rule). */
  root(): Uint8Array {
    if (this.#hashes.length === 0) return this.#suite.sha256();
    let root = this.#hashes[this.#hashes.length - 1]!;
    for (let i = this.#hashes.length - 2; i >= 0; i--) root = nodeHash(this.#suite, this.#hashes[i]!, root);
    return root;
  }
}

/** Reference MTH straight from the RFC's recursive definition; used by tests to pin the accumulator. */
export function merkleTreeHash(suite: CryptoSuite, leaves: readonly Uint8Array[]): Uint8Array {
  const n = leaves.length;
  if (n === 0) return suite.sha256();
  if (n === 1) return leafHash(suite, leaves[0]!);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return nodeHash(suite, merkleTreeHash(suite, leaves.slice(0, k)), merkleTreeHash(suite, leaves.slice(k)));
}
