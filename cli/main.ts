/** The `custody` command line: dispatches to one module per command. */
import { parseArgs } from 'node:util';
import { cat, exportV2, play, verify } from './bundle-commands.ts';
import { keys } from './keys.ts';
import { record, UsageError } from './record.ts';
import { loadPolicy } from './policy-file.ts';
import { redact } from './redact.ts';

const USAGE = `usage:
  custody record [--out FILE] [--policy FILE] [--no-input] -- CMD [ARGS…]
                 run CMD in a recorded terminal (redacted per the policy), write a sealed bundle
  custody verify FILE [--trust ROOT.json] [--json] [--allow-untrusted]
                                                    check a bundle; exit 0 only when intact and trusted
  custody cat FILE                                  print the recorded (redacted) output
  custody play FILE [--speed N] [--idle-limit S]    replay the session in this terminal
  custody export FILE --asciicast-v2 OUT.cast       convert for older players (asciinema 2.x)
  custody keys show | trust-root [--out FILE]       this device's key, or a trust root that trusts it
  custody redact [--policy FILE] [--known-secret V]… [--cols N]
                                                    redact stdin to stdout; markers on stderr
`;

function positiveNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'record': {
      const dash = rest.indexOf('--');
      const own = dash < 0 ? rest : rest.slice(0, dash);
      const { values } = parseArgs({ args: own, options: { out: { type: 'string' }, policy: { type: 'string' }, 'no-input': { type: 'boolean' } }, strict: true });
      return record({
        command: dash < 0 ? [] : rest.slice(dash + 1),
        ...(values.out === undefined ? {} : { out: values.out }),
        policy: await loadPolicy(values.policy),
        recordInput: values['no-input'] !== true,
      });
    }
    case 'verify': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { trust: { type: 'string' }, json: { type: 'boolean' }, 'allow-untrusted': { type: 'boolean' } },
      });
      const [file] = positionals;
      if (file === undefined || positionals.length > 1) throw new UsageError('verify takes one bundle file');
      return verify(file, { ...(values.trust === undefined ? {} : { trust: values.trust }), json: values.json === true, allowUntrusted: values['allow-untrusted'] === true });
    }
    case 'cat': {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      if (positionals.length !== 1) throw new UsageError('cat takes one bundle file');
      return cat(positionals[0]!);
    }
    case 'play': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { speed: { type: 'string' }, 'idle-limit': { type: 'string' } } });
      if (positionals.length !== 1) throw new UsageError('play takes one bundle file');
      const idleLimit = positiveNumber(values['idle-limit'], '--idle-limit');
      return play(positionals[0]!, { speed: positiveNumber(values.speed, '--speed') ?? 1, ...(idleLimit === undefined ? {} : { idleLimit }) });
    }
    case 'export': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { 'asciicast-v2': { type: 'string' } } });
      if (positionals.length !== 1 || values['asciicast-v2'] === undefined) throw new UsageError('export takes one bundle file and --asciicast-v2 OUT.cast');
      return exportV2(positionals[0]!, values['asciicast-v2']);
    }
    case 'keys': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { out: { type: 'string' } } });
      const action = positionals[0];
      if (action !== 'show' && action !== 'trust-root') throw new UsageError('keys takes "show" or "trust-root"');
      return keys(action, values.out);
    }
    case 'redact': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { policy: { type: 'string' }, 'known-secret': { type: 'string', multiple: true }, cols: { type: 'string' } },
      });
      if (positionals.length > 0) throw new UsageError('redact reads standard input and takes no file');
      return redact({
        ...(values.policy === undefined ? {} : { policyFile: values.policy }),
        knownSecrets: values['known-secret'] ?? [],
        cols: positiveNumber(values.cols, '--cols') ?? 80,
      });
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
    process.stderr.write(`custody: ${(error as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`custody: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
