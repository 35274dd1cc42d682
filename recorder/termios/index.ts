/**
 * Whether the program on a local pty has turned echo off, read from the pty's
 * master fd (issue 3, "Input (keystrokes)"). Linux and macOS answer
 * tcgetattr() on the master with the slave's termios, so the recorder asks
 * through the fd that node-pty holds (`UnixTerminal#_fd`, see `ptyMasterFd`).
 *
 * The answer is read by a small Node-API addon (termios.c), built by
 * `npm ci` through this folder's package.json. Where it is not built or the
 * platform has no termios (Windows), every answer is 'unknown': callers must
 * treat 'unknown' as "the flag says nothing", never as "echo is on".
 *
 * Echo off alone does not mean a password: a shell's line editor (readline,
 * zle), ssh and full-screen programs put the pty in raw mode, echo off
 * included, and echo keys themselves. `inputMode` tells the two apart.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { createRequire } from 'node:module';

export type EchoState = 'on' | 'off' | 'unknown';

/**
 * - `echoed`: ECHO is on, the kernel echoes every key.
 * - `hidden`: ECHO off in line mode (ICANON on): a line read without echo, as
 *   getpass(3), sudo, `read -s`, readpassphrase(3) (ssh, ssh-keygen) and Go's
 *   term.ReadPassword do. Keys typed now are a secret.
 * - `raw`: ECHO and ICANON off: the program reads key by key and decides what
 *   to show (readline at a shell prompt, an ssh session, vim). The flag says
 *   nothing; use the prompt detector and echo absence instead.
 * - `unknown`: the fd is closed, not a terminal, or termios is unavailable.
 */
export type InputMode = 'echoed' | 'hidden' | 'raw' | 'unknown';

/** Mirrors MODE_* in termios.c. */
const MODE_ECHO = 1;
const MODE_CANONICAL = 2;

interface TermiosBinding {
  /** MODE_* bits, or -errno when tcgetattr fails. Never throws. */
  modeFlags(fd: number): number;
  /** A close-on-exec duplicate of `fd`, or -errno. Never throws. */
  holdMaster(fd: number): number;
}

function loadBinding(): { binding: TermiosBinding } | { binding: undefined; reason: string } {
  if (process.platform === 'win32') return { binding: undefined, reason: 'Windows ptys (ConPTY) have no termios' };
  try {
    const binding = createRequire(import.meta.url)('./build/Release/custody_termios.node') as TermiosBinding;
    return { binding };
  } catch (error) {
    return { binding: undefined, reason: `recorder/termios is not built (npm ci builds it): ${(error as Error).message}` };
  }
}

const loaded = loadBinding();

/** Why every answer is 'unknown' here, or undefined when the addon is loaded. */
export const termiosUnavailable: string | undefined = loaded.binding === undefined ? loaded.reason : undefined;

function modeFlags(fd: number): number {
  if (loaded.binding === undefined || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) return -1;
  try {
    return loaded.binding.modeFlags(fd);
  } catch {
    return -1;
  }
}

/** The ECHO flag of the terminal behind `fd` (a pty master or slave). Never throws. */
export function echoState(fd: number): EchoState {
  const flags = modeFlags(fd);
  if (flags < 0) return 'unknown';
  return (flags & MODE_ECHO) !== 0 ? 'on' : 'off';
}

/** ECHO and ICANON of the terminal behind `fd`, as the recorder needs them. Never throws. */
export function inputMode(fd: number): InputMode {
  const flags = modeFlags(fd);
  if (flags < 0) return 'unknown';
  if ((flags & MODE_ECHO) !== 0) return 'echoed';
  return (flags & MODE_CANONICAL) !== 0 ? 'hidden' : 'raw';
}

/**
 * The master fd of a node-pty terminal on Linux and macOS: node-pty 1.1 keeps
 * it as `UnixTerminal#_fd` (lib/unixTerminal.js; not in its typings). Undefined
 * on Windows or if a later node-pty renames it.
 *
 * Ask only while the pty is open: after its exit node-pty closes the fd, and
 * the number may be reused by any file opened later.
 */
export function ptyMasterFd(pty: object): number | undefined {
  const fd = (pty as { _fd?: unknown })._fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/**
 * The recorder's own duplicate of a node-pty terminal's master fd, to ask `inputMode` through;
 * undefined where there is none (Windows, the addon not built, node-pty without `_fd`).
 *
 * node-pty closes its master when the program exits, possibly before the exit is reported, and
 * a session opened meanwhile may then get the same fd number (and the same /dev/pts number):
 * the old session's keys would be judged by the new session's flags. The duplicate keeps this
 * pty's fd number to itself until `releasePtyMaster`, whatever node-pty does with its own.
 */
export function holdPtyMaster(pty: object): number | undefined {
  const fd = ptyMasterFd(pty);
  if (fd === undefined || loaded.binding === undefined) return undefined;
  try {
    const copy = loaded.binding.holdMaster(fd);
    return copy >= 0 ? copy : undefined;
  } catch {
    return undefined;
  }
}

/** Closes a duplicate from `holdPtyMaster`. Once only: the number is free again after. */
export function releasePtyMaster(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing held.
  }
}

/**
 * An fd of the pty's slave side held by the recorder until node-pty reports the exit, or
 * undefined where it cannot be opened (Windows, no `ptsName`).
 *
 * On Linux, when the program exits and the last slave fd closes, the master read ends at the
 * hang-up while the pty may still hold the program's last output (microsoft/node-pty#85): that
 * tail would be missing from the display and the recording. With a slave fd of ours open there is
 * no hang-up; node-pty reads on until it ends the read itself (200 ms after the exit, its
 * DESTROY_SOCKET_TIMEOUT_MS), and then reports the exit. O_NOCTTY: the recorder never takes the
 * pty as its controlling terminal.
 */
export function holdPtySlave(pty: object): number | undefined {
  const name = (pty as { ptsName?: unknown }).ptsName;
  if (typeof name !== 'string' || name.length === 0 || process.platform === 'win32') return undefined;
  try {
    return openSync(name, constants.O_RDWR | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
}
