/**
 * The redaction scanner: finds secrets in a piece of text with the rule set, in time linear in
 * the text.
 *
 * 1. One Aho-Corasick pass finds every keyword occurrence (hit).
 * 2. One token pass finds runs of token characters; they are the hits of the keywordless rules
 *    (the generic high-entropy rule).
 * 3. Each rule's hits become windows ([hit start − before, hit end + after)); a rule's windows
 *    are merged where they overlap, so every character is handed to a rule's RE2 program at most
 *    once. RE2 (re2js) runs in time linear in its input, so the whole scan is
 *    O(text · (2 + rules that hit)).
 */
import { RE2JS } from 're2js';
import { buildKeywordAutomaton, scanKeywords, type KeywordAutomaton } from './aho-corasick.ts';
import type { SecretRule, SecretSpan, StepCounter } from './types.ts';

/** [A-Za-z0-9+/=_\-.~]: the characters of tokens, keys and base64. */
const TOKEN_CHAR = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=_-.~') TOKEN_CHAR[c.charCodeAt(0)] = 1;

const DEFAULT_WINDOW: NonNullable<SecretRule['window']> = { before: 64, after: 256 };

/** Keywordless rules see token runs of this many UTF-16 units, no fewer and no more. */
export const TOKEN_RUN_MIN = 8;
export const TOKEN_RUN_MAX = 4096;
/** The token runs the keyword pass collects on the way (scanKeywords' `runs`). */
const TOKEN_RUNS = { member: TOKEN_CHAR, min: TOKEN_RUN_MIN, max: TOKEN_RUN_MAX } as const;

/** The marker whose hit opens a multi-line block (private keys): held until its END arrives. */
const BLOCK_KEYWORD = '-----begin';
const BLOCK_END = '-----END';

interface CompiledRule {
  readonly rule: SecretRule;
  readonly program: RE2JS;
  readonly secretGroup: number;
  readonly before: number;
  readonly after: number;
  /** A private-key rule opened by `-----BEGIN`: held from BEGIN until its END or its cap. */
  readonly isBlock: boolean;
  readonly within: NonNullable<SecretRule['window']>['within'];
}

/** A line break before a line that does not start with a space or tab: a YAML map is over. */
const UNINDENTED_LINE = /\n[^ \t\r\n]/g;

/** The longest END line of a block after its `-----END`: `[ A-Z0-9]{0,32}PRIVATE KEY BLOCK-----`. */
const BLOCK_END_LINE = 64;

/**
 * Where the window of a hit ending at `hitEnd` closes: `hitEnd + after`, or sooner per the
 * rule's `within`. `closed` when the text shows that no later character can join the match.
 */
function windowEnd(rule: CompiledRule, text: string, hitEnd: number): { end: number; closed: boolean } {
  const n = text.length;
  const limit = hitEnd + rule.after;
  switch (rule.within) {
    case 'line': {
      const lf = text.indexOf('\n', hitEnd);
      if (lf >= 0 && lf < limit) return { end: lf, closed: true };
      break;
    }
    case 'token': {
      let i = hitEnd;
      const stop = Math.min(n, limit);
      for (let code = text.charCodeAt(i); i < stop && code < 128 && TOKEN_CHAR[code] === 1; code = text.charCodeAt(++i));
      // A space as the text's last character may still be readline's margin wrap (` \r`, then the
      // token goes on over it): the token is over only once something follows that character.
      if (i < stop) return { end: i, closed: i + 1 < n };
      break;
    }
    case 'block': {
      const end = text.indexOf(BLOCK_END, hitEnd);
      if (end >= 0 && end + BLOCK_END_LINE < limit) return { end: Math.min(n, end + BLOCK_END_LINE), closed: end + BLOCK_END_LINE <= n };
      break;
    }
    case 'map': {
      const brace = text.indexOf('}', hitEnd);
      UNINDENTED_LINE.lastIndex = hitEnd;
      const unindented = UNINDENTED_LINE.exec(text)?.index ?? -1;
      const end = brace < 0 ? unindented : unindented < 0 ? brace : Math.min(brace, unindented);
      if (end >= 0 && end < limit) return { end: end + 1, closed: true };
      break;
    }
    case undefined:
      break;
  }
  return { end: Math.min(n, limit), closed: limit <= n };
}

export interface CompiledRules {
  readonly rules: readonly CompiledRule[];
  readonly automaton: KeywordAutomaton;
  /** For each automaton keyword, the indices of the rules it opens. */
  readonly owners: readonly (readonly number[])[];
  /** Indices of the rules driven by the token pass. */
  readonly keywordless: readonly number[];
  /**
   * Of those, the rules whose window is the run itself and that have a plain-code finder: called
   * on each run at once (runs never touch, so there is nothing to merge); the others get windows.
   */
  readonly onRuns: readonly number[];
  readonly windowedOnRuns: readonly number[];
}

export function compileRules(rules: readonly SecretRule[]): CompiledRules {
  const seen = new Set<string>();
  const keywordIndex = new Map<string, number>();
  const keywords: string[] = [];
  const owners: number[][] = [];
  const keywordless: number[] = [];
  const compiled = rules.map((rule, index): CompiledRule => {
    if (seen.has(rule.id)) throw new Error(`redaction rule ${rule.id}: the id is used twice`);
    seen.add(rule.id);
    let program: RE2JS;
    try {
      program = RE2JS.compile(rule.pattern);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`redaction rule ${rule.id}: bad pattern: ${why}`, { cause: error });
    }
    const secretGroup = rule.secretGroup ?? 0;
    if (!Number.isInteger(secretGroup) || secretGroup < 0 || secretGroup > program.groupCount()) {
      throw new Error(
        `redaction rule ${rule.id}: secretGroup ${secretGroup} does not exist (the pattern has ${program.groupCount()} groups)`,
      );
    }
    const window = rule.window ?? DEFAULT_WINDOW;
    if (!(window.before >= 0 && window.after >= 0)) {
      throw new Error(`redaction rule ${rule.id}: window bounds must be non-negative`);
    }
    let isBlock = false;
    if (rule.keywords.length === 0) keywordless.push(index);
    for (const raw of rule.keywords) {
      const keyword = raw.toLowerCase();
      if (keyword.length === 0) throw new Error(`redaction rule ${rule.id}: empty keyword`);
      if (keyword === BLOCK_KEYWORD && rule.category === 'private-key') isBlock = true;
      let k = keywordIndex.get(keyword);
      if (k === undefined) {
        k = keywords.length;
        keywordIndex.set(keyword, k);
        keywords.push(keyword);
        owners.push([]);
      }
      const list = owners[k]!;
      if (!list.includes(index)) list.push(index);
    }
    return { rule, program, secretGroup, before: window.before, after: window.after, isBlock, within: window.within };
  });
  const onRuns = keywordless.filter((r) => compiled[r]!.rule.find !== undefined && compiled[r]!.before === 0 && compiled[r]!.after === 0);
  const windowedOnRuns = keywordless.filter((r) => !onRuns.includes(r));
  return { rules: compiled, automaton: buildKeywordAutomaton(keywords), owners, keywordless, onRuns, windowedOnRuns };
}

interface Hit {
  readonly start: number;
  readonly end: number;
}

interface RawSpan extends SecretSpan {
  readonly rule: number;
}

interface Pass {
  /** Every accepted secret, per rule in rule order, each rule's in text order. */
  readonly spans: RawSpan[];
  /** Keyword hits: start, end, and the automaton keyword index. */
  readonly hits: readonly { readonly start: number; readonly end: number; readonly keyword: number }[];
  readonly pendingDepth: number;
  /** Start of the token run that reaches the end of the text, or text.length. */
  readonly trailingRunStart: number;
}

/**
 * The matches a rule's program found in a window's text, by rule and text: readings of one
 * stretch of output (both readings of a margin CRLF, a released prefix read again) share most
 * windows, and RE2 gives the same matches for the same text. Positions are relative to the
 * window; `accept` still runs for each scan, since it may read around the candidate.
 */
export type WindowMemo = Map<string, readonly number[]>;

function run(text: string, compiled: CompiledRules, counter: StepCounter | undefined, memo?: WindowMemo): Pass {
  const n = text.length;
  const { automaton, owners, rules, keywordless } = compiled;
  const scan = scanKeywords(automaton, text, counter, keywordless.length > 0 ? TOKEN_RUNS : undefined);
  const hits = scan.hits.map((hit) => ({
    keyword: hit.keyword,
    end: hit.end,
    start: hit.end - automaton.keywords[hit.keyword]!.length,
  }));

  const spans: RawSpan[] = [];
  /** The spans sink of one rule: its accept check, then the list. */
  const sinks: ((start: number, end: number) => void)[] = [];
  const sinkOf = (ruleIndex: number): ((start: number, end: number) => void) => {
    let sink = sinks[ruleIndex];
    if (sink === undefined) {
      const { id, accept } = rules[ruleIndex]!.rule;
      sink = (start, end) => {
        if (accept === undefined || accept(text.slice(start, end), text, start)) spans.push({ start, end, ruleId: id, rule: ruleIndex });
      };
      sinks[ruleIndex] = sink;
    }
    return sink;
  };

  // Windows per rule, merged as they come. Hits arrive in order of their end, and a later hit's
  // window start can only precede the current window's start if it overlaps it, so a greedy
  // merge with the last window suffices.
  const windows: [number, number][][] = [];
  const addWindow = (ruleIndex: number, hitStart: number, hitEnd: number): void => {
    const rule = rules[ruleIndex]!;
    const start = Math.max(0, hitStart - rule.before);
    const end = windowEnd(rule, text, hitEnd).end;
    const list = (windows[ruleIndex] ??= []);
    const last = list[list.length - 1];
    if (last !== undefined && start <= last[1]) {
      last[0] = Math.min(last[0], start);
      last[1] = Math.max(last[1], end);
    } else {
      list.push([start, end]);
    }
  };
  /** The rule's `near` checks: plain character tests, a few steps per hit. */
  const nearEnough = (ruleIndex: number, hit: Hit): boolean => {
    const near = rules[ruleIndex]!.rule.near;
    if (near === undefined) return true;
    const has = (from: number, to: number, anyOf: string): boolean => {
      if (counter) counter.steps += Math.max(0, to - from);
      for (let i = Math.max(0, from); i < Math.min(n, to); i++) if (anyOf.includes(text[i]!)) return true;
      return false;
    };
    if (near.before !== undefined && !has(hit.start - near.before.within, hit.start, near.before.anyOf)) return false;
    if (near.after !== undefined && !has(hit.end, hit.end + near.after.within, near.after.anyOf)) return false;
    return true;
  };
  for (const hit of hits) for (const ruleIndex of owners[hit.keyword]!) if (nearEnough(ruleIndex, hit)) addWindow(ruleIndex, hit.start, hit.end);

  // Token runs (found by the keyword pass), for the keywordless rules.
  let trailingRunStart = n;
  if (keywordless.length > 0) {
    const directFinds = compiled.onRuns.map((r) => ({ find: rules[r]!.rule.find!, sink: sinkOf(r) }));
    const runs = scan.runs;
    for (let r = 0; r < runs.length; r += 2) {
      const runStart = runs[r]!;
      const runEnd = runs[r + 1]!;
      for (const { find, sink } of directFinds) {
        if (counter) counter.steps += runEnd - runStart;
        find(text, runStart, runEnd, sink);
      }
      for (const ruleIndex of compiled.windowedOnRuns) addWindow(ruleIndex, runStart, runEnd);
    }
    trailingRunStart = scan.trailingRunStart;
  }

  windows.forEach((list, ruleIndex) => {
    const rule = rules[ruleIndex]!;
    const { find } = rule.rule;
    const sink = sinkOf(ruleIndex);
    for (const [windowStart, windowEnd] of list) {
      if (counter) counter.steps += windowEnd - windowStart;
      if (find !== undefined) {
        find(text, windowStart, windowEnd, sink);
        continue;
      }
      const slice = text.slice(windowStart, windowEnd);
      const key = memo === undefined ? '' : `${ruleIndex} ${slice}`;
      let secrets = memo?.get(key);
      if (secrets === undefined) {
        const found: number[] = [];
        const matcher = rule.program.matcher(slice);
        let from = 0;
        while (from <= slice.length && matcher.find(from)) {
          const matchStart = matcher.start(0);
          const matchEnd = matcher.end(0);
          const secretStart = matcher.start(rule.secretGroup);
          const secretEnd = matcher.end(rule.secretGroup);
          if (secretStart >= 0 && secretEnd > secretStart) found.push(secretStart, secretEnd);
          from = matchEnd > matchStart ? matchEnd : matchEnd + 1;
        }
        secrets = found;
        memo?.set(key, found);
      }
      for (let k = 0; k < secrets.length; k += 2) sink(windowStart + secrets[k]!, windowStart + secrets[k + 1]!);
    }
  });

  return { spans, hits, pendingDepth: scan.pendingDepth, trailingRunStart };
}

export function scanText(text: string, rules: CompiledRules, counter?: StepCounter, memo?: WindowMemo): SecretSpan[] {
  return mergeSpans(run(text, rules, counter, memo));
}

/** scanText and holdPoint from one pass over the text: what a stream needs on every chunk. */
export function scanAndHold(
  text: string,
  rules: CompiledRules,
  counter?: StepCounter,
  memo?: WindowMemo,
): { spans: SecretSpan[]; hold: number } {
  const pass = run(text, rules, counter, memo);
  return { spans: mergeSpans(pass), hold: holdFromPass(text, rules, pass) };
}

function mergeSpans(pass: Pass): SecretSpan[] {
  // Earliest start first; on a tie the longer span, then the earlier rule, names the merge.
  const spans = [...pass.spans].sort((a, b) => a.start - b.start || b.end - a.end || a.rule - b.rule);
  const merged: { start: number; end: number; ruleId: string }[] = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last !== undefined && span.start < last.end) {
      last.end = Math.max(last.end, span.end);
    } else {
      merged.push({ start: span.start, end: span.end, ruleId: span.ruleId });
    }
  }
  return merged;
}
export function holdPoint(text: string, rules: CompiledRules): number {
  return holdFromPass(text, rules, run(text, rules, undefined));
}

function holdFromPass(text: string, rules: CompiledRules, pass: Pass): number {
  const n = text.length;
  let hold = n - pass.pendingDepth;

  // Private-key blocks found complete (with their END line): BEGIN hits they cover are closed.
  const terminated: RawSpan[] = pass.spans.filter(
    (span) => rules.rules[span.rule]!.isBlock && text.slice(span.start, span.end).includes(BLOCK_END),
  );
  const blockKeyword = rules.automaton.keywords.indexOf(BLOCK_KEYWORD);

  for (const hit of pass.hits) {
    for (const ruleIndex of rules.owners[hit.keyword]!) {
      const rule = rules.rules[ruleIndex]!;
      if (windowEnd(rule, text, hit.end).closed) continue; // the window closed inside the text
      if (rule.isBlock && hit.keyword === blockKeyword) {
        const closed = terminated.some((s) => s.rule === ruleIndex && s.start <= hit.start && s.end >= hit.end);
        if (!closed) hold = Math.min(hold, hit.start);
      } else {
        hold = Math.min(hold, Math.max(0, hit.start - rule.before));
      }
    }
  }

  if (rules.keywordless.length > 0 && n - pass.trailingRunStart <= TOKEN_RUN_MAX) {
    hold = Math.min(hold, pass.trailingRunStart);
  }
  return hold;
}
