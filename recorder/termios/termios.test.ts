import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as pty from 'node-pty';
import { echoState, holdPtyMaster, inputMode, ptyMasterFd, releasePtyMaster, termiosUnavailable, type InputMode } from './index.ts';

const unix = process.platform !== 'win32';

/** A real pty running `argv`, with its output collected as text. */
class PtyUnderTest {
  readonly term: pty.IPty;
  readonly fd: number;
  output = '';
  exited = false;
  #waiters: (() => void)[] = [];

  constructor(file: string, args: string[], user: { uid: number; gid: number } | undefined) {
    const env = { ...process.env, LANG: 'C', LC_ALL: 'C' };
    this.term = pty.spawn(file, args, { name: 'xterm-256color', cols: 80, rows: 24, cwd: tmpdir(), env, ...user });
    const fd = ptyMasterFd(this.term);
    assert.ok(fd !== undefined, 'node-pty keeps the master fd as _fd');
    this.fd = fd;
    this.term.onData((data) => {
      this.output += data;
      this.#wake();
    });
    this.term.onExit(() => {
      this.exited = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Resolves once the output contains `text` (the program has got that far). */
  async waitFor(text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(text)) {
      if (this.exited) assert.fail(`the program exited before printing ${JSON.stringify(text)}; output: ${JSON.stringify(this.output)}`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no ${JSON.stringify(text)} within ${timeoutMs} ms; output: ${JSON.stringify(this.output)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Polls until the mode is `expected` (for programs that print before they set the terminal). */
  async waitForMode(expected: InputMode, timeoutMs = 5_000): Promise<InputMode> {
    const deadline = Date.now() + timeoutMs;
    let mode = inputMode(this.fd);
    while (mode !== expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      mode = inputMode(this.fd);
    }
    return mode;
  }

  /** Waits (bounded) for the program to end by itself. */
  async waitForExit(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exited && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  async exit(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.term.onExit(() => resolve()));
    this.term.kill('SIGKILL');
    await done;
    // node-pty closes the master fd a little after the exit. Until it has, the next test's pty
    // could get the same fd number and then lose it to this late close: wait for it (bounded).
    for (let i = 0; i < 200; i++) {
      try {
        fstatSync(this.fd);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

async function withPty(file: string, args: string[], body: (term: PtyUnderTest) => Promise<void>, user?: { uid: number; gid: number }): Promise<void> {
  const term = new PtyUnderTest(file, args, user);
  try {
    await body(term);
  } finally {
    await term.exit();
  }
}

function commandExists(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('the addon is built and loaded on Linux and macOS', { skip: !unix && 'no termios on Windows' }, () => {
  assert.equal(termiosUnavailable, undefined);
});

test("the recorder's own duplicate of the master keeps answering for its pty after node-pty closes the original", { skip: !unix }, async () => {
  // Session A's program exits and node-pty closes A's master; session B's pty then gets the
  // lowest free fd number and the lowest free /dev/pts number, which were A's. Asked through
  // node-pty's old number, B's modes would be read for A's keys. The held duplicate is A's.
  const first = new PtyUnderTest('bash', ['-c', 'printf "a-ready\\n"; sleep 5'], undefined);
  await first.waitFor('a-ready');
  const held = holdPtyMaster(first.term);
  assert.ok(held !== undefined, 'a duplicate of the master');
  try {
    assert.notEqual(held, first.fd);
    assert.equal(inputMode(held), 'echoed');
    await first.exit(); // waits until node-pty has closed its master
    await withPty('bash', ['-c', 'stty -echo; printf "b-hidden\\n"; sleep 5'], async (second) => {
      await second.waitFor('b-hidden');
      assert.equal(second.fd, first.fd, "B got A's old fd number: the case this guards against");
      assert.equal(inputMode(second.fd), 'hidden', "B's own modes");
      assert.notEqual(second.fd, held);
      assert.equal(inputMode(held), 'echoed', "A's duplicate still reads A's pty, not B's");
    });
  } finally {
    releasePtyMaster(held);
  }
  assert.equal(inputMode(held), 'unknown', 'released: the number says nothing');
});

test('a fresh pty echoes; stty -echo turns it off and stty echo back on, seen through the master fd', { skip: !unix }, async () => {
  await withPty('bash', ['-c', 'printf "start\\n"; read -r _; stty -echo; printf "now-off\\n"; read -r _; stty echo; printf "now-on\\n"; sleep 5'], async (term) => {
    await term.waitFor('start');
    assert.equal(echoState(term.fd), 'on');
    assert.equal(inputMode(term.fd), 'echoed');
    term.term.write('\r');
    await term.waitFor('now-off');
    assert.equal(echoState(term.fd), 'off');
    assert.equal(inputMode(term.fd), 'hidden', 'stty -echo keeps line mode');
    term.term.write('\r');
    await term.waitFor('now-on');
    assert.equal(echoState(term.fd), 'on');
  });
});

test("bash's read -s leaves echo off while it waits, and keys typed then never come back", { skip: !unix }, async () => {
  const script = `read -r -s -p 'Password: ' secret; printf '\\nread %d characters\\n' "\${#secret}"; printf 'after\\n'; sleep 5`;
  await withPty('bash', ['-c', script], async (term) => {
    await term.waitFor('Password: ');
    assert.equal(echoState(term.fd), 'off');
    assert.equal(inputMode(term.fd), 'hidden');
    term.term.write('hunter2\r');
    await term.waitFor('after');
    assert.match(term.output, /read 7 characters/);
    assert.ok(!term.output.includes('hunter2'), 'the kernel did not echo the hidden keys');
    assert.equal(echoState(term.fd), 'on', 'read -s restores echo');
  });
});

test("ssh-keygen's passphrase prompt (readpassphrase, as ssh uses) reads as hidden", { skip: (!unix || !commandExists('ssh-keygen')) && 'no ssh-keygen' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custody-termios-'));
  try {
    const key = join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-C', '', '-f', key], { stdio: 'ignore' });
    await withPty('ssh-keygen', ['-y', '-f', key], async (term) => {
      await term.waitFor('passphrase');
      assert.equal(await term.waitForMode('hidden'), 'hidden');
      assert.equal(echoState(term.fd), 'off');
      term.term.write('correct horse\r');
      await term.waitFor('ssh-ed25519 ');
      assert.ok(!term.output.includes('correct horse'));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sudo's password prompt reads as hidden", { skip: (!unix || process.getuid?.() !== 0 || !commandExists('sudo')) && 'needs root (to start sudo as nobody, who is asked) and sudo' }, async () => {
  // Started as nobody on our pty, so sudo asks on this very pty (run as root it would not ask at all).
  await withPty('sudo', ['-k', 'true'], async (term) => {
    await term.waitFor('assword');
    assert.equal(await term.waitForMode('hidden'), 'hidden');
    assert.equal(echoState(term.fd), 'off');
    term.term.write('\x03'); // leave without a failed attempt
    // Let sudo take the ^C and leave on its own: killed at once, node-pty's write could still be
    // pending and land on the next test's pty under the same fd number (master-writer.ts).
    await term.waitForExit();
  }, { uid: 65534, gid: 65534 });
});

test('a pty relayed through another pty (script, sudo with use_pty, tmux, ssh) is raw while the inner prompt waits', { skip: (!unix || !commandExists('script')) && 'no script(1)' }, async () => {
  // The relay takes our pty raw; the inner program's echo-off happens on the inner pty, out of our sight.
  // script(1) runs the command with $SHELL or /bin/sh (dash on Debian), so the inner prompt is plain POSIX sh.
  await withPty('script', ['-q', '-c', "stty -echo; printf 'Password: '; read -r secret", '/dev/null'], async (term) => {
    await term.waitFor('Password: ');
    assert.equal(await term.waitForMode('raw'), 'raw');
    term.term.write('\x03');
    await term.waitForExit();
  });
});

test("a shell's line editor takes the pty raw: echo off without a password, which inputMode tells apart", { skip: !unix }, async () => {
  await withPty('bash', ['--norc', '--noprofile', '-i'], async (term) => {
    term.term.write("PS1='ready> '\r");
    await term.waitFor('ready> ');
    assert.equal(await term.waitForMode('raw'), 'raw');
    assert.equal(echoState(term.fd), 'off', 'readline echoes keys itself, so ECHO alone would hide every command');
  });
});

test('a closed fd, a file, a negative or fractional number and a non-number read as unknown, without throwing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'custody-termios-'));
  try {
    const file = openSync(join(dir, 'plain'), 'w');
    const closed = openSync(join(dir, 'closed'), 'w');
    closeSync(closed);
    try {
      const cases: unknown[] = [file, closed, -1, 1.5, Number.NaN, 2 ** 40, '3', undefined];
      for (const fd of cases) {
        assert.equal(echoState(fd as number), 'unknown', `echoState(${String(fd)})`);
        assert.equal(inputMode(fd as number), 'unknown', `inputMode(${String(fd)})`);
      }
    } finally {
      closeSync(file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ptyMasterFd finds node-pty 1.1’s master fd and nothing on other objects', { skip: !unix }, async () => {
  assert.equal(ptyMasterFd({}), undefined);
  assert.equal(ptyMasterFd({ _fd: 'x' }), undefined);
  await withPty('bash', ['-c', 'printf up; sleep 5'], async (term) => {
    await term.waitFor('up');
    assert.equal(term.fd, (term.term as unknown as { fd: number }).fd, 'the same fd as UnixTerminal#fd');
    assert.equal(echoState(term.fd), 'on');
  });
});
