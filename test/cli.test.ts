/**
 * The `custody` command as a user runs it: a child process (`node bin/custody.js …`)
 * with its own CUSTODY_HOME, judged on exit codes and what it prints. Recording
 * runs a real command in a real pty, once with a plain pipe for stdin (CI has
 * no terminal) and once inside `script`, which gives it a terminal of its own.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CAST_ENTRY, MANIFEST_ENTRY, NOTES_ENTRY, SESSION_KEY_ENTRY, readZip, writeZip } from '../shared/bundle/index.ts';
import { makeTempDir, removeDir } from './support/recording.ts';

const CUSTODY = fileURLToPath(new URL('../bin/custody.js', import.meta.url));
const DEADLINE_MS = 20_000;

interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Single-quotes a word for /bin/sh. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Removes every carriage return: `script`'s terminal and the recorded pty both add them. */
function withoutCr(text: string): string {
  return text.replace(/\r/g, '');
}

describe('custody CLI', () => {
  let home: string; // CUSTODY_HOME: the device key lives here, never in the real home
  let work: string; // bundles, trust roots, exports
  let trustRoot: string;
  const running = new Set<ChildProcess>();

  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    CUSTODY_HOME: home,
    HOME: work, // asciinema and bash look here; keep them out of the real home
    LANG: 'C.UTF-8',
    TERM: 'xterm-256color',
  });

  /**
   * Starts a child with a deadline: if it has not exited by then it is killed
   * (by its pid) and the result says so, so a hung CLI fails the test instead of the run.
   */
  const start = (
    command: string,
    args: readonly string[],
    options: { stdin?: 'ignore' | 'pipe'; deadlineMs?: number; onStdout?: (text: string, child: ChildProcess) => void } = {},
  ): { child: ChildProcess; result: Promise<CliResult> } => {
    const child = spawn(command, args, { cwd: work, env: env(), stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      options.onStdout?.(stdout, child);
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const deadlineMs = options.deadlineMs ?? DEADLINE_MS;
    const result = new Promise<CliResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${command} ${args.join(' ')} did not exit within ${deadlineMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, deadlineMs);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        running.delete(child);
        child.stdin?.destroy();
        resolve({ code, signal, stdout, stderr });
      });
    });
    return { child, result };
  };

  const custody = (...args: string[]): Promise<CliResult> => start(process.execPath, [CUSTODY, ...args]).result;

  /** Runs `custody …` inside `script`, so that it has a terminal (stdin a tty, raw mode) even where the test has none. */
  const custodyInTerminal = (...args: string[]): Promise<CliResult> =>
    start('script', ['-eqc', [process.execPath, CUSTODY, ...args].map(shellQuote).join(' '), '/dev/null']).result;

  const path = (name: string): string => join(work, name);

  /** The bundle for `printf "hello\n"; exit 3`, recorded with a stdin pipe that stays open (no terminal). */
  let hello: { file: string; run: CliResult };
  /** Colour, UTF-8 and several lines, recorded inside a terminal. */
  let rich: { file: string; run: CliResult };

  const RICH_SCRIPT = [
    `printf '\\033[1;31mred alert\\033[0m\\n'`,
    `printf 'h\\303\\251llo \\342\\234\\223 \\346\\227\\245\\346\\234\\254\\n'`, // "héllo ✓ 日本", spelled in octal so the shell's locale does not matter
    `for i in 1 2 3; do printf 'line %s\\n' "$i"; done`,
    `printf '\\033[32mgreen\\033[0m done\\n'`,
  ].join('; ');

  before(async () => {
    home = await makeTempDir('cli-home');
    work = await makeTempDir('cli-work');
    trustRoot = path('root.json');
    // Creates the device key before the recordings run side by side.
    const keys = await custody('keys', 'trust-root', '--out', trustRoot);
    assert.equal(keys.code, 0, keys.stderr);

    const recordHello = async (): Promise<void> => {
      const file = path('hello.custody');
      // stdin is a pipe that stays open until the CLI exits: input without a terminal.
      const { result } = start(process.execPath, [CUSTODY, 'record', '--out', file, '--', 'bash', '-c', 'printf "hello\\n"; exit 3'], { stdin: 'pipe' });
      hello = { file, run: await result };
    };
    const recordRich = async (): Promise<void> => {
      const file = path('rich.custody');
      rich = { file, run: await custodyInTerminal('record', '--out', file, '--', 'bash', '-c', RICH_SCRIPT) };
    };
    await Promise.all([recordHello(), recordRich()]);
  });

  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    if (home !== undefined) await removeDir(home);
    if (work !== undefined) await removeDir(work);
  });

  describe('record', () => {
    test('records a command without a terminal, exits with its status and says the recording is sealed', async () => {
      const { run, file } = hello;
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stdout, /hello/, 'the command is shown live');
      assert.match(run.stderr, /recording sealed/);
      assert.ok(run.stderr.includes(file), 'stderr names the bundle');
      assert.ok((await stat(file)).size > 0);
    });

    test('records a command inside a terminal (raw mode) and exits with its status', async () => {
      assert.equal(rich.run.code, 0, rich.run.stderr + rich.run.stdout);
      assert.match(rich.run.stdout, /recording sealed/); // script merges the terminal's stdout and stderr
      assert.ok((await stat(rich.file)).size > 0);
    });

    test('end of a non-terminal stdin does not kill the command: it runs to its own exit, as under script(1)', async () => {
      // `custody record -- deploy.sh < /dev/null` in CI: no more input is not a hang-up.
      const file = path('eof.custody');
      let ended = false;
      const { result } = start(
        process.execPath,
        [CUSTODY, 'record', '--out', file, '--', 'bash', '-c', 'printf "started\\n"; sleep 1; printf "finished\\n"; exit 3'],
        {
          stdin: 'pipe',
          onStdout: (text, child) => {
            // The session is running (its output is on screen): now the input ends.
            if (!ended && text.includes('started')) {
              ended = true;
              child.stdin!.end();
            }
          },
        },
      );
      const run = await result;
      assert.ok(ended, 'the command started');
      assert.equal(run.code, 3, `the command was not allowed to finish (exit ${run.code}): ${run.stderr}`);
      const cat = await custody('cat', file);
      assert.match(cat.stdout, /finished/);
    });

    test('input piped in before the session has started reaches the program', async () => {
      // Type-ahead: what is on stdin when `custody record` starts must not be dropped.
      const file = path('typeahead.custody');
      const { child, result } = start(process.execPath, [CUSTODY, 'record', '--out', file, '--', 'bash', '--norc', '--noprofile', '-i'], {
        stdin: 'pipe',
        deadlineMs: 8_000,
        onStdout: (text, c) => {
          if (text.includes('early-42')) c.stdin!.write('exit\r');
        },
      });
      child.stdin!.write('echo early-$((6*7))\r');
      const run = await result.catch((error: Error) => ({ code: null, signal: null, stdout: error.message, stderr: '' }));
      assert.match(run.stdout, /early-42/, 'the typed-ahead command ran');
      assert.equal(run.code, 0, run.stderr);
      assert.match((await custody('cat', file)).stdout, /early-42/);
    });
  });

  describe('verify', () => {
    test('with the trust root: exit 0, "intact and trusted"', async () => {
      const run = await custody('verify', hello.file, '--trust', trustRoot);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout.split('\n')[0]!, /intact and trusted/);
      assert.match(run.stdout, /exit\s+3/);
    });

    test('without a trust root: exit 1, untrusted; --allow-untrusted accepts it', async () => {
      const untrusted = await custody('verify', hello.file);
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stdout, /untrusted/);
      assert.doesNotMatch(untrusted.stdout, /intact and trusted/);
      const allowed = await custody('verify', hello.file, '--allow-untrusted');
      assert.equal(allowed.code, 0, allowed.stdout);
    });

    test('--json prints a report a program can read', async () => {
      const trusted = await custody('verify', hello.file, '--trust', trustRoot, '--json');
      assert.equal(trusted.code, 0);
      const report = JSON.parse(trusted.stdout) as { status: string; trusted: boolean; intact: boolean; findings: unknown[] };
      assert.equal(report.status, 'intact');
      assert.equal(report.trusted, true);
      assert.equal(report.intact, true);
      assert.deepEqual(report.findings, []);
      const untrusted = await custody('verify', hello.file, '--json');
      assert.equal(untrusted.code, 1);
      assert.equal((JSON.parse(untrusted.stdout) as { status: string }).status, 'untrusted-key');
    });

    test('a tampered bundle: exit 1, and the output names the problem and where it is', async () => {
      const entries = readZip(new Uint8Array(await readFile(hello.file)));
      const cast = new TextDecoder().decode(entries.get(CAST_ENTRY));
      assert.ok(cast.includes('hello'));
      const tampered = path('tampered.custody');
      await writeFile(
        tampered,
        writeZip(
          [MANIFEST_ENTRY, CAST_ENTRY, NOTES_ENTRY, SESSION_KEY_ENTRY].map((name) => ({
            name,
            data: name === CAST_ENTRY ? new TextEncoder().encode(cast.replace('hello', 'jello')) : entries.get(name)!,
          })),
        ),
      );
      const run = await custody('verify', tampered, '--trust', trustRoot);
      assert.equal(run.code, 1);
      assert.match(run.stdout.split('\n')[0]!, /tampered/);
      assert.match(run.stdout, /recording\/session\.cast/);
      assert.match(run.stdout, /events \[\d+, \d+\)/);
      // cat still shows it, but never without a warning.
      const cat = await custody('cat', tampered);
      assert.match(cat.stderr, /warning: .*does not verify \(tampered\)/);
    });

    test('a file that is not a zip: exit 1, and the output says it is not a zip', async () => {
      const notZip = path('notes.txt');
      await writeFile(notZip, 'these are my notes, not a bundle\n');
      const run = await custody('verify', notZip, '--trust', trustRoot);
      assert.equal(run.code, 1);
      assert.match(run.stdout, /malformed/);
      assert.match(run.stdout, /not a zip/);
      assert.ok(run.stdout.includes(notZip), 'the message names the file');
    });

    test('a missing file: exit 2 with a message naming it', async () => {
      const missing = path('no-such.custody');
      const run = await custody('verify', missing);
      assert.equal(run.code, 2);
      assert.ok(run.stderr.includes(`cannot read ${missing}: no such file`), run.stderr);
      assert.equal(run.stdout, '');
    });
  });

  describe('reading a recording', () => {
    test('cat prints the recorded output, without a warning for an intact bundle', async () => {
      const run = await custody('cat', hello.file);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'hello\r\n');
      assert.doesNotMatch(run.stderr, /warning/);
    });

    test('the asciicast v2 export plays in Debian’s asciinema 2.2 with the same text as custody cat', async () => {
      const cat = await custody('cat', rich.file);
      assert.equal(cat.code, 0, cat.stderr);
      for (const expected of ['\x1b[1;31mred alert\x1b[0m', 'héllo ✓ 日本', 'line 1', 'line 2', 'line 3', '\x1b[32mgreen\x1b[0m done']) {
        assert.ok(cat.stdout.includes(expected), `custody cat shows ${JSON.stringify(expected)}: ${JSON.stringify(cat.stdout)}`);
      }

      const out = path('rich.cast');
      const exported = await custody('export', rich.file, '--asciicast-v2', out);
      assert.equal(exported.code, 0, exported.stderr);
      const [header, ...events] = (await readFile(out, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as unknown);
      assert.equal((header as { version: number }).version, 2);
      let previous = 0;
      for (const event of events as [number, string, string][]) {
        assert.ok(event[0] >= previous, 'asciicast v2 times are absolute and never go back');
        previous = event[0];
      }

      // asciinema opens /dev/tty, so it runs inside script(1).
      const player = await start('script', ['-eqc', `asciinema cat ${shellQuote(out)}`, '/dev/null']).result;
      assert.equal(player.code, 0, player.stderr + player.stdout);
      assert.equal(withoutCr(player.stdout), withoutCr(cat.stdout));
    });

    test('play --speed 100 prints the recorded output', async () => {
      const cat = await custody('cat', rich.file);
      const started = performance.now();
      const run = await custody('play', rich.file, '--speed', '100');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, cat.stdout);
      assert.ok(performance.now() - started < 10_000);
    });
  });

  describe('usage errors exit 2 with a message', () => {
    test('verify without a file', async () => {
      const run = await custody('verify');
      assert.equal(run.code, 2);
      assert.match(run.stderr, /verify takes one bundle file/);
      assert.match(run.stderr, /usage:/);
    });

    test('play with a negative speed', async () => {
      const spaced = await custody('play', hello.file, '--speed', '-1');
      assert.equal(spaced.code, 2);
      assert.match(spaced.stderr, /--speed/);
      const joined = await custody('play', hello.file, '--speed=-1');
      assert.equal(joined.code, 2);
      assert.match(joined.stderr, /--speed must be a positive number, got "-1"/);
      assert.equal(joined.stdout, '', 'nothing is played');
    });

    test('an unknown command', async () => {
      const run = await custody('frobnicate');
      assert.equal(run.code, 2);
      assert.match(run.stderr, /unknown command "frobnicate"/);
    });
  });
});
