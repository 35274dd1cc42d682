/**
 * Test support: a real OpenSSH sshd on 127.0.0.1, on a free port, for tests
 * that record a session which logs in over ssh and types a password at a real
 * remote prompt.
 *
 *   const reason = sshdUnavailable();
 *   if (reason !== undefined) return t.skip(reason);
 *   const sshd = await startSshd();
 *   after(() => sshd.stop());
 *   // ssh -p ${sshd.port} ${sshd.user}@127.0.0.1, password ${sshd.password}
 *
 * The server runs from a temp dir of its own (fresh host keys, config, pid
 * file). The login is a local user, `custody-e2e`, with a password set afresh
 * on every start, and with sudo that asks for that password (a drop-in in
 * /etc/sudoers.d), so that the remote session shows a real
 * `[sudo] password for custody-e2e:` prompt. Creating users and sudoers rules
 * needs root, and sshd must be installed: `sshdUnavailable()` says why not.
 *
 * With `certificates`, the server takes only OpenSSH user certificates signed by the given CA
 * (TrustedUserCAKeys) and not in the given KRL (RevokedKeys, read on every login), with no
 * password login, no authorized_keys and no sudoers drop-in. No AuthorizedPrincipalsFile: the
 * login name must be one of the certificate's principals.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { makeTempDir, removeDir } from './recording.ts';

export const SSHD_BINARY = '/usr/sbin/sshd';
export const E2E_USER = 'custody-e2e';
/** Drop-in that lets the e2e user run sudo with its password; removed again by `stop()`. */
const SUDOERS_DROP_IN = `/etc/sudoers.d/${E2E_USER}`;
/** sshd refuses to start without its privilege separation directory. */
const PRIVSEP_DIR = '/run/sshd';
const START_TIMEOUT_MS = 10_000;

export interface RunningSshd {
  readonly port: number;
  readonly user: string;
  /** The user's login (and sudo) password, new on every start. */
  readonly password: string;
  /** What sshd has logged so far (why a login was refused, which certificate was accepted). */
  log(): string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Certificate login only: the CA's public key file and the KRL file sshd reads. */
  readonly certificates?: { readonly trustedUserCaKeys: string; readonly revokedKeys: string };
}

/** Why a real sshd cannot be started here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `a real sshd test needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'a real sshd test must run as root: it creates a local user, a sudoers drop-in and /run/sshd';
  for (const tool of [SSHD_BINARY, '/usr/bin/ssh', '/usr/bin/ssh-keygen', '/usr/bin/sudo', '/usr/sbin/visudo', '/usr/sbin/chpasswd', '/usr/sbin/useradd']) {
    if (!existsSync(tool)) return `${tool} is not installed (openssh-server, openssh-client and sudo are needed)`;
  }
  return undefined;
}

/**
 * A password that reads as a person's passphrase (dashed words and digits),
 * not as a random token: the generic high-entropy rule must not be what hides
 * it, the hidden-input machinery must. Its 5-character pieces do not occur in
 * ordinary terminal text. No `:` (chpasswd's separator).
 */
function passphrase(): string {
  const words = ['Quokka', 'Zither', 'Vellum', 'Kumquat', 'Marimba', 'Gusset', 'Fjordvik', 'Wombler', 'Xylarch', 'Quillon'];
  const pick = (): string => words[randomInt(words.length)]!;
  return `${pick()}-${pick()}-${randomInt(1000, 10000)}-${pick()}`;
}

function run(command: string, args: readonly string[], input?: string): void {
  const result = spawnSync(command, args, { input, encoding: 'utf8', timeout: 30_000 });
  if (result.error !== undefined) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}: ${result.stderr.trim()}`);
}

/** The user exists from one run to the next (we leave it: removing users under a running system is riskier than keeping one). */
function ensureUser(password: string): void {
  if (spawnSync('id', ['-u', E2E_USER]).status !== 0) run('/usr/sbin/useradd', ['-m', '-s', '/bin/bash', E2E_USER]);
  run('/usr/sbin/chpasswd', [], `${E2E_USER}:${password}\n`);
}

/** sudo with a password: written beside the target, checked by visudo, then renamed into place. */
async function installSudoers(): Promise<void> {
  const staged = join('/etc/sudoers.d', `.${E2E_USER}.staged`); // sudo ignores names with a dot
  await writeFile(staged, `${E2E_USER} ALL=(ALL) ALL\n`, { mode: 0o440 });
  try {
    await chmod(staged, 0o440);
    run('/usr/sbin/visudo', ['-cf', staged]);
    await rename(staged, SUDOERS_DROP_IN);
  } finally {
    await rm(staged, { force: true });
  }
}

/** A port the kernel just handed out on 127.0.0.1 (sshd may still lose a race for it: see the retry). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function sshdConfig(dir: string, port: number, options: SshdOptions): string {
  const login =
    options.certificates === undefined
      ? ['PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication no']
      : ['PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes', `TrustedUserCAKeys ${options.certificates.trustedUserCaKeys}`, `RevokedKeys ${options.certificates.revokedKeys}`];
  return [
    'ListenAddress 127.0.0.1',
    `Port ${port}`,
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'UsePAM no',
    ...login,
    'AuthorizedKeysFile none',
    'PermitRootLogin no',
    `AllowUsers ${E2E_USER}`,
    'StrictModes no',
    'PrintMotd no',
    'PrintLastLog no',
    'LogLevel INFO',
    '',
  ].join('\n');
}

/** Starts sshd in the foreground (-D) logging to stderr (-e); resolves once it listens. */
function launch(config: string, port: number): Promise<{ child: ChildProcess; log: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(SSHD_BINARY, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`sshd did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms; its log: ${log}`));
    }, START_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      log += chunk;
      if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
        clearTimeout(timer);
        resolve({ child, log: () => log });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited (${signal ?? code}) before listening on 127.0.0.1:${port}; its log: ${log}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts sshd for the e2e user. Call `sshdUnavailable()` first and skip when it gives a reason. */
export async function startSshd(options: SshdOptions = {}): Promise<RunningSshd> {
  const reason = sshdUnavailable();
  if (reason !== undefined) throw new Error(reason);
  const password = passphrase();
  ensureUser(password);
  await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  const dir = await makeTempDir('sshd');
  let sudoersInstalled = false;
  try {
    run('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'custody-e2e host key', '-f', join(dir, 'ssh_host_ed25519_key')]);
    if (options.certificates === undefined) {
      await installSudoers();
      sudoersInstalled = true;
    }
    const config = join(dir, 'sshd_config');
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      await writeFile(config, sshdConfig(dir, port, options));
      try {
        const { child, log } = await launch(config, port);
        return {
          port,
          user: E2E_USER,
          password,
          log,
          async stop() {
            await stopChild(child);
            if (sudoersInstalled) await rm(SUDOERS_DROP_IN, { force: true });
            await removeDir(dir);
          },
        };
      } catch (error) {
        lastError = error as Error; // most likely the port was taken in between: try another
      }
    }
    throw lastError ?? new Error('sshd did not start');
  } catch (error) {
    if (sudoersInstalled) await rm(SUDOERS_DROP_IN, { force: true });
    await removeDir(dir);
    throw error;
  }
}
