/**
 * Test support: a real PostgreSQL server of the test's own, on 127.0.0.1 and a free port, in a
 * temp directory (Debian's `postgresql` package; scripts/system-deps.sh installs it). Set
 * CUSTODY_TEST_POSTGRES_URL to use a server of your own instead (its database is used as is).
 *
 *   const reason = postgresUnavailable();
 *   if (reason !== undefined) return t.skip(reason);
 *   const server = await startPostgres();
 *   after(() => server.stop());
 *   // server.url: postgres://…@127.0.0.1:PORT/custody; server.freshDatabase() for isolation
 *
 * PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user (the
 * package creates it) and its tools run through runuser.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const DEBIAN_ROOT = '/usr/lib/postgresql';
const START_TIMEOUT_S = 30;

export interface RunningPostgres {
  /** The `custody` database of this server. */
  readonly url: string;
  /** A new empty database on the same server, for a test that needs its own schema. */
  freshDatabase(): Promise<string>;
  stop(): Promise<void>;
}

function binDir(): string | undefined {
  if (!existsSync(DEBIAN_ROOT)) return undefined;
  const versions = readdirSync(DEBIAN_ROOT).filter((v) => existsSync(join(DEBIAN_ROOT, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(DEBIAN_ROOT, versions[0], 'bin');
}

/** Why a real PostgreSQL cannot be started here, or undefined when it can. */
export function postgresUnavailable(): string | undefined {
  if (process.env['CUSTODY_TEST_POSTGRES_URL']) return undefined;
  if (process.platform !== 'linux') return `the PostgreSQL tests start Debian's server and need Linux (this is ${process.platform})`;
  if (binDir() === undefined) return `PostgreSQL is not installed (${DEBIAN_ROOT}/*/bin/pg_ctl; scripts/system-deps.sh installs the postgresql package)`;
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'running as root, but there is no postgres user to own the cluster';
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function asOwner(argv: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', ...argv]] : [argv[0]!, argv.slice(1)];
}

function runTool(argv: string[]): void {
  const [file, args] = asOwner(argv);
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: START_TIMEOUT_S * 1000 });
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`);
}

let databases = 0;

export async function startPostgres(): Promise<RunningPostgres> {
  const external = process.env['CUSTODY_TEST_POSTGRES_URL'];
  if (external) return withDatabases(external, async () => undefined);

  const bin = binDir();
  if (bin === undefined) throw new Error(postgresUnavailable());
  const dir = await mkdtemp(join(tmpdir(), 'custody-pg-'));
  if (process.getuid?.() === 0) {
    const owner = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const group = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    await chown(dir, Number(owner.stdout.trim()), Number(group.stdout.trim()));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  runTool([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // Loopback only, the socket in our directory, no fsync (test data), quick shutdown.
  const options = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off -c full_page_writes=off -c max_connections=200`;
  runTool([join(bin, 'pg_ctl'), '-D', data, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', String(START_TIMEOUT_S), 'start']);
  const stop = async (): Promise<void> => {
    const [file, args] = asOwner([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
    await new Promise<void>((resolve) => spawn(file, args, { stdio: 'ignore' }).on('close', () => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  try {
    await createDatabase(admin, 'custody');
  } catch (error) {
    await stop();
    throw error;
  }
  return withDatabases(`postgres://postgres@127.0.0.1:${port}/custody`, stop);
}

async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

function withDatabases(url: string, stop: () => Promise<void>): RunningPostgres {
  return {
    url,
    async freshDatabase() {
      const name = `custody_${process.pid}_${++databases}_${Date.now() % 100000}`;
      await createDatabase(url, name);
      const fresh = new URL(url);
      fresh.pathname = `/${name}`;
      return fresh.toString();
    },
    stop,
  };
}
