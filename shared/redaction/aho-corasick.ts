/**
 * Aho-Corasick keyword automaton (Aho & Corasick 1975) over lower-cased keywords, with ASCII case
 * folding of the text. One pass, one transition per UTF-16 unit: the redaction prefilter, so a
 * chunk with no keyword in it costs exactly one scan.
 *
 * The automaton is a full DFA: every state has a transition for every symbol of the keywords'
 * alphabet, so stepping never follows failure links at scan time. Characters outside that
 * alphabet all lead back to the root.
 */

export interface KeywordHit {
  /** Index into the keyword list given to {@link buildKeywordAutomaton}. */
  readonly keyword: number;
  /** End of the occurrence (exclusive), in UTF-16 units. Its start is `end - keyword.length`. */
  readonly end: number;
}

export interface KeywordAutomaton {
  readonly keywords: readonly string[];
  /** Symbol of a char code: 0 for "not in any keyword", else 1 + its alphabet index. */
  readonly symbolOf: (code: number) => number;
  /** symbolOf for the ASCII codes, case folding included: the scan loop's table. */
  readonly asciiSymbol: Uint8Array;
  readonly symbolCount: number;
  /** transitions[state * symbolCount + symbol] */
  readonly transitions: Int32Array;
  /** Keywords that end in this state, through dictionary suffix links as well. */
  readonly outputs: readonly (readonly number[])[];
  /** 1 where `outputs` is not empty, so the scan loop tests a byte rather than an array. */
  readonly hasOutput: Uint8Array;
  /**
   * For each state: the length of the longest suffix of the state's string that is a proper
   * prefix of some keyword (a state with children is itself such a prefix).
   */
  readonly pendingDepth: Int32Array;
  /**
   * `transitions` as the scan loop reads them: each target as its row (state * symbolCount),
   * bit-inverted (so negative) when the target has outputs. One lookup and one sign test per
   * unit, no multiply.
   */
  readonly rows: Int32Array;
}

const UPPER_A = 65;
const UPPER_Z = 90;

/** ASCII case folding only: `A`–`Z` become `a`–`z`, every other unit is itself. */
export function foldCase(code: number): number {
  return code >= UPPER_A && code <= UPPER_Z ? code + 32 : code;
}

export function buildKeywordAutomaton(keywords: readonly string[]): KeywordAutomaton {
  const folded = keywords.map((keyword, index) => {
    if (keyword.length === 0) throw new Error(`keyword ${index} is empty`);
    let out = '';
    for (let i = 0; i < keyword.length; i++) out += String.fromCharCode(foldCase(keyword.charCodeAt(i)));
    return out;
  });

  // The alphabet: every unit that occurs in a keyword.
  const ascii = new Int32Array(128);
  const wide = new Map<number, number>();
  let symbolCount = 1;
  for (const keyword of folded) {
    for (let i = 0; i < keyword.length; i++) {
      const code = keyword.charCodeAt(i);
      if (code < 128) {
        if (ascii[code] === 0) ascii[code] = symbolCount++;
      } else if (!wide.has(code)) {
        wide.set(code, symbolCount++);
      }
    }
  }
  const symbolOf = (code: number): number => {
    const c = foldCase(code);
    return c < 128 ? (ascii[c] ?? 0) : (wide.get(c) ?? 0);
  };

  // The trie, as a growable goto table (-1 = no edge).
  const gotoTable: number[] = new Array<number>(symbolCount).fill(-1);
  const depth: number[] = [0];
  const hasChildren: boolean[] = [false];
  const outputs: number[][] = [[]];
  let stateCount = 1;
  folded.forEach((keyword, index) => {
    let state = 0;
    for (let i = 0; i < keyword.length; i++) {
      const symbol = symbolOf(keyword.charCodeAt(i));
      const slot = state * symbolCount + symbol;
      let next = gotoTable[slot] ?? -1;
      if (next < 0) {
        next = stateCount++;
        for (let s = 0; s < symbolCount; s++) gotoTable.push(-1);
        gotoTable[slot] = next;
        depth.push(depth[state]! + 1);
        hasChildren.push(false);
        outputs.push([]);
        hasChildren[state] = true;
      }
      state = next;
    }
    outputs[state]!.push(index);
  });

  // Breadth-first: failure links, full transitions, merged outputs, pending depths.
  const transitions = new Int32Array(stateCount * symbolCount);
  const fail = new Int32Array(stateCount);
  const pendingDepth = new Int32Array(stateCount);
  const queue: number[] = [];
  for (let symbol = 0; symbol < symbolCount; symbol++) {
    const child = gotoTable[symbol] ?? -1;
    transitions[symbol] = child < 0 ? 0 : child;
    if (child > 0) {
      fail[child] = 0;
      queue.push(child);
    }
  }
  for (let head = 0; head < queue.length; head++) {
    const state = queue[head]!;
    const failState = fail[state]!;
    outputs[state] = [...outputs[state]!, ...outputs[failState]!];
    pendingDepth[state] = hasChildren[state] ? depth[state]! : pendingDepth[failState]!;
    for (let symbol = 0; symbol < symbolCount; symbol++) {
      const child = gotoTable[state * symbolCount + symbol] ?? -1;
      const viaFail = transitions[failState * symbolCount + symbol]!;
      if (child < 0) {
        transitions[state * symbolCount + symbol] = viaFail;
      } else {
        transitions[state * symbolCount + symbol] = child;
        fail[child] = viaFail;
        queue.push(child);
      }
    }
  }

  const asciiSymbol = new Uint8Array(128);
  if (symbolCount > 256) throw new Error(`the keywords use ${symbolCount - 1} distinct characters; at most 255 are supported`);
  for (let code = 0; code < 128; code++) asciiSymbol[code] = symbolOf(code);
  const hasOutput = Uint8Array.from(outputs, (list) => (list.length > 0 ? 1 : 0));
  const rows = transitions.map((target) => (hasOutput[target] === 1 ? ~(target * symbolCount) : target * symbolCount));
  return { keywords: folded, symbolOf, asciiSymbol, symbolCount, transitions, outputs, hasOutput, pendingDepth, rows };
}

export interface KeywordScan {
  readonly hits: KeywordHit[];
  /**
   * Length of the longest suffix of the text that is a proper prefix of some keyword: a keyword
   * that may be split across the end of this text and the start of the next chunk.
   */
  readonly pendingDepth: number;
  /** With `runs`: start, end pairs of the runs of member characters within its length bounds. */
  readonly runs: number[];
  /** With `runs`: start of the run that reaches the end of the text, or the text's length. */
  readonly trailingRunStart: number;
}

/** Runs of characters to collect in the same pass: ASCII members (1 in `member`) only. */
export interface RunSpec {
  readonly member: Uint8Array;
  readonly min: number;
  readonly max: number;
}

const asciiTables = new WeakMap<KeywordAutomaton, { member: Uint8Array | undefined; table: Uint16Array }>();

/** Per ASCII code: its symbol, and 256 more when it is a run member: one lookup for both. Kept per automaton. */
function asciiTable(automaton: KeywordAutomaton, member: Uint8Array | undefined): Uint16Array {
  const cached = asciiTables.get(automaton);
  if (cached !== undefined && cached.member === member) return cached.table;
  const table = new Uint16Array(128);
  for (let code = 0; code < 128; code++) table[code] = automaton.asciiSymbol[code]! | (member?.[code] === 1 ? 256 : 0);
  asciiTables.set(automaton, { member, table });
  return table;
}

/**
 * One pass over `text`; counts one step per UTF-16 unit in `counter`. With `runs`, the same pass
 * also collects runs of member characters (the scanner's token runs), so the redactor's hot
 * loop reads each character once.
 */
export function scanKeywords(
  automaton: KeywordAutomaton,
  text: string,
  counter?: { steps: number },
  runs?: RunSpec,
): KeywordScan {
  const { rows, symbolCount, symbolOf, outputs } = automaton;
  const hits: KeywordHit[] = [];
  const found: number[] = [];
  const member = runs?.member;
  const min = runs?.min ?? 0;
  const max = runs?.max ?? 0;
  const ascii = asciiTable(automaton, member);
  const n = text.length;
  let row = 0;
  let runStart = -1;
  // The hot loop of the redactor: typed-array lookups only; outputs and run ends are rare.
  for (let i = 0; i < n; i++) {
    const code = text.charCodeAt(i);
    const entry = code < 128 ? ascii[code]! : symbolOf(code);
    const next = rows[row + (entry & 255)]!;
    if (next >= 0) {
      row = next;
    } else {
      row = ~next;
      for (const keyword of outputs[row / symbolCount]!) hits.push({ keyword, end: i + 1 });
    }
    if (entry >= 256) {
      if (runStart < 0) runStart = i;
    } else if (runStart >= 0) {
      const length = i - runStart;
      if (length >= min && length <= max) found.push(runStart, i);
      runStart = -1;
    }
  }
  let trailingRunStart = n;
  if (runStart >= 0) {
    trailingRunStart = runStart;
    const length = n - runStart;
    if (length >= min && length <= max) found.push(runStart, n);
  }
  if (counter) counter.steps += n;
  return { hits, pendingDepth: automaton.pendingDepth[row / symbolCount]!, runs: found, trailingRunStart };
}
