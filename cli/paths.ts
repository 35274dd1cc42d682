/** Where the CLI keeps its data: $CUSTODY_HOME, else $XDG_DATA_HOME/custody, else ~/.local/share/custody. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['CUSTODY_HOME'] !== undefined && env['CUSTODY_HOME'] !== '') return env['CUSTODY_HOME'];
  const xdg = env['XDG_DATA_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.local', 'share'), 'custody');
}

export function deviceKeyFile(dir: string): string {
  return join(dir, 'device-key.json');
}
