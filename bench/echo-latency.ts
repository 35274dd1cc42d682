/**
 * Keystroke echo latency added by the recorder: the time from sending one key
 * to seeing it come back from the program, p50 and p99.
 *
 *   baseline A  node-pty in this process (no second process at all; not a configuration
 *               the architecture allows, printed so that the process hop is not hidden)
 *   baseline B  bench/bypass-host.ts: the pty in a forked child driven by the same
 *               RecorderClient over the same IPC channel (validated `input` calls, one
 *               `output` event per pty read, acks), nothing recorded
 *   candidate   RecorderClient → recorder: `input` call, `output` event; the recorder's
 *               worker also records the key and checkpoints after it (fsync + signature)
 *
 * The program is `cat` on a raw tty (`stty raw -echo`), so each key is read by a
 * process and written back, as a remote shell would. Keys go one at a time (the
 * next is sent when the previous has come back), in blocks that rotate between
 * the three so that drift on the shared machine hits all of them alike.
 *
 * The architecture puts the pty in a separate process in every configuration
 * (node-pty cannot run in a sandboxed renderer), so the goal ("added by the
 * recorder") is judged against baseline B; the figures against A are printed too.
 *
 *   node bench/echo-latency.ts [--quick]
 */
import { join } from 'node:path';
import { createWorkspace } from './corpus.ts';
import { fmtMs, fmtSigned, isQuick, percentile, Report } from './report.ts';
import { bypassTransport, directTransport, recorderTransport, type PtySession, type Transport } from './transports.ts';

const quick = isQuick();
const KEYS = quick ? 600 : 3000;
const WARMUP_KEYS = quick ? 100 : 300;
const BLOCK = 100;
const GOAL_P50_MS = 0.1;
const GOAL_P99_MS = 1;
const READY = 'READY';
const ECHO_TIMEOUT_MS = 5000;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** A session running `cat` on a raw tty, and a way to time one key's round trip. */
class EchoSession {
  readonly #session: PtySession;
  #received = '';
  #waiting: { char: string; resolve: () => void } | undefined;

  constructor(session: PtySession) {
    this.#session = session;
    session.onOutput((data) => {
      this.#received += Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
      const waiting = this.#waiting;
      if (waiting !== undefined && this.#received.includes(waiting.char)) {
        this.#waiting = undefined;
        this.#received = '';
        waiting.resolve();
      }
    });
  }

  static async open(transport: Transport): Promise<EchoSession> {
    const session = transport.open({ command: '/bin/sh', args: ['-c', `stty raw -echo && printf ${READY} && exec cat`] });
    const echo = new EchoSession(session);
    await echo.#until(READY);
    return echo;
  }

  #until(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(text)} from the pty within ${ECHO_TIMEOUT_MS} ms`)), ECHO_TIMEOUT_MS);
      this.#waiting = {
        char: text,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      // Already there (READY may have arrived before we asked).
      if (this.#received.includes(text)) {
        this.#waiting = undefined;
        this.#received = '';
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Sends one key and resolves with the milliseconds until it came back. */
  async key(char: string): Promise<number> {
    this.#received = '';
    const echoed = this.#until(char);
    const start = performance.now();
    this.#session.write(char);
    await echoed;
    return performance.now() - start;
  }

  /** Ends `cat` (in raw mode ^C and ^D are just bytes, so with SIGHUP) and waits for the session to end. */
  async close(): Promise<void> {
    this.#session.close();
    await this.#session.exited;
    await this.#session.sealed;
  }
}

interface Config {
  readonly label: string;
  readonly transport: Transport;
  echo?: EchoSession;
  readonly latencies: number[];
}

async function main(): Promise<void> {
  const report = new Report('echo-latency', `keystroke echo latency: ${KEYS} keys each${quick ? ' (--quick)' : ''}`, [
    'baseline A: node-pty in THIS process (no second process; not a configuration the architecture allows — shown, not judged)',
    'baseline B: bypass host — the pty in a forked child, same RecorderClient and IPC channel as the recorder (calls validated, acks), nothing recorded',
    'candidate:  RecorderClient → recorder (`input` call → pty → `output` event; records the key and checkpoints after it)',
    `program: cat on a raw tty (stty raw -echo); one key at a time, waiting for each echo; blocks of ${BLOCK} keys rotate A → B → candidate → candidate with recordInput off; ${WARMUP_KEYS} warm-up keys each are discarded`,
    'goal (JUDGED AGAINST B, since the architecture always puts the pty in another process): added ≤ 0.1 ms at p50 and ≤ 1 ms at p99',
  ]);
  const workspace = createWorkspace('echo', 1024);
  const configs: Config[] = [
    { label: 'A (direct)', transport: directTransport(), latencies: [] },
    { label: 'B (bypass)', transport: await bypassTransport(), latencies: [] },
    { label: 'candidate', transport: await recorderTransport(join(workspace.dir, 'recorder')), latencies: [] },
    // Attribution: the same recorder under a policy that never stores keystrokes (no input events, no per-key checkpoint).
    { label: 'cand., recordInput off', transport: await recorderTransport(join(workspace.dir, 'recorder-no-input'), { recordInput: false }), latencies: [] },
  ];
  try {
    for (const config of configs) config.echo = await EchoSession.open(config.transport);
    let n = 0;
    for (const config of configs) for (let i = 0; i < WARMUP_KEYS; i++) await config.echo!.key(LETTERS[n++ % LETTERS.length]!);
    for (let done = 0; done < KEYS; done += BLOCK) {
      for (const config of configs) {
        for (let i = 0; i < Math.min(BLOCK, KEYS - done); i++) config.latencies.push(await config.echo!.key(LETTERS[n++ % LETTERS.length]!));
      }
    }
    for (const config of configs) await config.echo!.close();

    const [a, b, c, d] = configs.map((config) => config.latencies) as [number[], number[], number[], number[]];
    const p = (values: number[], q: number): number => percentile(values, q);
    console.log('  percentiles (ms):            p50      p90      p99    p99.9      max');
    for (const config of configs) {
      const v = config.latencies;
      console.log(
        `    ${config.label.padEnd(24)} ${[50, 90, 99, 99.9].map((q) => p(v, q).toFixed(3).padStart(7)).join('  ')}  ${Math.max(...v).toFixed(3).padStart(7)}`,
      );
    }
    console.log('');
    const addedB50 = p(c, 50) - p(b, 50);
    const addedB99 = p(c, 99) - p(b, 99);
    report.goal('p50 added vs B (recorder\'s own cost)', fmtMs(p(b, 50)), fmtMs(p(c, 50)), fmtSigned(addedB50), `≤ +${GOAL_P50_MS} ms`, addedB50 <= GOAL_P50_MS);
    report.goal('p99 added vs B (recorder\'s own cost)', fmtMs(p(b, 99)), fmtMs(p(c, 99)), fmtSigned(addedB99), `≤ +${GOAL_P99_MS} ms`, addedB99 <= GOAL_P99_MS);
    report.info('attribution: recordInput off, p50 added vs B', fmtMs(p(b, 50)), fmtMs(p(d, 50)), fmtSigned(p(d, 50) - p(b, 50)));
    report.info('attribution: recordInput off, p99 added vs B', fmtMs(p(b, 99)), fmtMs(p(d, 99)), fmtSigned(p(d, 99) - p(b, 99)));
    report.info('p50 added vs A IN-PROCESS (incl. process hop)', fmtMs(p(a, 50)), fmtMs(p(c, 50)), fmtSigned(p(c, 50) - p(a, 50)));
    report.info('p99 added vs A IN-PROCESS (incl. process hop)', fmtMs(p(a, 99)), fmtMs(p(c, 99)), fmtSigned(p(c, 99) - p(a, 99)));
    report.info('process hop alone: B vs A, p50', fmtMs(p(a, 50)), fmtMs(p(b, 50)), fmtSigned(p(b, 50) - p(a, 50)));
    report.info('process hop alone: B vs A, p99', fmtMs(p(a, 99)), fmtMs(p(b, 99)), fmtSigned(p(b, 99) - p(a, 99)));
    report.finish([
      'keys are sent back to back, so each key\'s checkpoint (fdatasync + signature, off the echo path) overlaps the next key: a worst case for p99; a person types ~10 keys/s.',
    ]);
  } finally {
    for (const config of configs) await config.transport.stop();
    workspace.remove();
  }
}

await main();
