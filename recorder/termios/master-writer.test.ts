import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as pty from 'node-pty';
import { holdPtyMaster, inputMode } from './index.ts';
import { MasterWriter } from './master-writer.ts';

const unix = process.platform !== 'win32';

function spawn(script: string): { term: pty.IPty; output: () => string; exited: Promise<number> } {
  const term = pty.spawn('bash', ['-c', script], { name: 'xterm', cols: 80, rows: 24, cwd: tmpdir(), env: { ...process.env, LANG: 'C' } });
  let output = '';
  term.onData((data) => (output += data));
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  return { term, output: () => output, exited };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check(), what);
}

test('keys larger than the pty input buffer arrive whole and in order (the writer waits out EAGAIN)', { skip: !unix }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custody-writer-'));
  try {
    const file = join(dir, 'got');
    const size = 300_000;
    // Raw mode: no line-length limit, no echo; the program reads exactly `size` bytes.
    const { term, output, exited } = spawn(`stty raw -echo; printf ready; head -c ${size} > ${file}; printf done`);
    await until(() => output().includes('ready'), 'the program starts');
    const held = holdPtyMaster(term);
    assert.ok(held !== undefined);
    const writer = new MasterWriter(held);
    let expected = '';
    for (let i = 0; expected.length < size; i++) {
      const piece = `${i.toString(36)}:${'x'.repeat(i % 700)};`;
      expected += piece;
      writer.write(piece);
    }
    expected = expected.slice(0, size);
    await exited;
    await writer.close();
    assert.equal(readFileSync(file, 'utf8'), expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("keys written as a session ends never reach the next session's program, which may get the same fd number", { skip: !unix }, async () => {
  for (let round = 0; round < 15; round++) {
    const first = spawn('printf a-ready; sleep 5');
    await until(() => first.output().includes('a-ready'), 'the first program starts');
    const writer = new MasterWriter(holdPtyMaster(first.term)!);
    // Typed as the program is killed; the writer closes with the session.
    writer.write('LEAKED-KEYS\r'.repeat(20000));
    first.term.kill('SIGKILL');
    await first.exited;
    const closing = writer.close();
    const second = spawn('stty -echo; printf b-ready; read -r line; printf "got<%s>" "$line"');
    await until(() => second.output().includes('b-ready'), 'the second program starts');
    await closing;
    second.term.write('own line\r');
    await until(() => second.output().includes('got<'), 'the second program reads a line');
    assert.doesNotMatch(second.output(), /LEAKED/, `round ${round}: leaked`);
    assert.match(second.output(), /got<own line>/, `round ${round}: the second program read another session's keys`);
    await second.exited;
  }
});

test('after close nothing is written, and the fd says nothing any more', { skip: !unix }, async () => {
  const { term, output, exited } = spawn('printf ready; sleep 5');
  await until(() => output().includes('ready'), 'the program starts');
  const writer = new MasterWriter(holdPtyMaster(term)!);
  assert.equal(inputMode(writer.fd), 'echoed');
  await writer.close();
  await writer.close();
  writer.write('ignored\r');
  assert.equal(inputMode(writer.fd), 'unknown');
  term.kill('SIGKILL');
  await exited;
});
