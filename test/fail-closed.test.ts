/**
 * Fail closed: nothing privileged runs unrecorded. When the spool cannot be
 * written (disk full, file system turned read-only) the session ends at once
 * with a message that says why; when the spool cannot even be created, the
 * program is never started. What was recorded before a failure stays in the
 * spool and a later start recovers it.
 *
 * These tests mount real file systems (tmpfs, ext4 on a loop device), so they
 * need root; without it they are skipped with the reason.
 */
import assert from 'node:assert/strict';
import { access, mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  RecorderUnderTest,
  assertRecoveredPrefix,
  pidFrom,
  openBash,
  processAlive,
  removeDir,
  restartAndRecover,
  sessionIdFor,
  sh,
  sleep,
  tempDir,
  tool,
  waitUntil,
  type ErrorEvent,
  type ExitEvent,
  type Recovery,
} from './support/recorder-harness.ts';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Whether a failed mount failed for lack of privilege (not root, no mount namespace), which is a reason to skip. */
function lacksPrivilege(error: Error): boolean {
  return /permission denied|not permitted|must be superuser|only root|EPERM|EACCES/i.test(error.message);
}

/** Mounts, or skips the test with the reason when this machine does not allow mounting. Returns false if skipped. */
async function mountOrSkip(t: TestContext, args: readonly string[]): Promise<boolean> {
  try {
    await tool('mount', args);
    return true;
  } catch (error) {
    if (!lacksPrivilege(error as Error)) throw error;
    t.skip(`needs permission to mount file systems (run as root or in a user+mount namespace): ${(error as Error).message}`);
    return false;
  }
}

async function unmount(dir: string): Promise<void> {
  // The recorder has exited by now, but give the kernel a moment to drop its last references.
  for (let attempt = 0; ; attempt++) {
    try {
      await tool('umount', [dir]);
      return;
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(100);
    }
  }
}

/** Pids of running processes whose command line contains `marker`: what is left of a session. */
async function processesWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker) && processAlive(Number(name))) pids.push(Number(name));
  }
  return pids;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

interface FailedSession {
  readonly error: ErrorEvent;
  readonly exit: ExitEvent;
}

/**
 * Waits for the spool failure of `sessionId` and checks what the client sees:
 * a fatal `spool-write-failed` error, then `exit`, the program and everything
 * it started gone, and never a `sealed` event.
 */
async function expectSessionEndedByFailure(recorder: RecorderUnderTest, sessionId: string, pid: number, marker: string): Promise<FailedSession> {
  const error = await recorder.next('the spool-write-failed error', (e): e is ErrorEvent => e.type === 'error' && e.sessionId === sessionId);
  const exit = await recorder.next('the exit event', (e): e is ExitEvent => e.type === 'exit' && e.sessionId === sessionId, 5_000);
  assert.equal(error.code, 'spool-write-failed', error.message);
  assert.equal(error.fatal, true, 'the session has ended because of this error');
  assert.match(error.message, /session was ended/);
  const own = recorder.of(sessionId);
  assert.ok(own.indexOf(error) < own.indexOf(exit), 'the error comes first, then the exit');
  await waitUntil(`the recorded program (pid ${pid}) is gone`, 5_000, () => !processAlive(pid));
  await waitUntil('every process the session started is gone', 5_000, async () => (await processesWith(marker)).length === 0);
  await sleep(300); // a late `sealed` would arrive about now
  assert.equal(
    recorder.of(sessionId).filter((e) => e.type === 'sealed').length,
    0,
    'a session whose recording failed is never reported as sealed',
  );
  assert.equal(recorder.of(sessionId).filter((e) => e.type === 'error').length, 1, 'the failure is reported once');
  return { error, exit };
}

test('a full disk ends the session with a clear message; a restart with room again recovers what was written', async (t) => {
  const base = await tempDir('full-disk');
  const dataDir = join(base, 'data');
  const keyFile = join(base, 'keys', 'device-key.json'); // the key must not be on the full disk
  await mkdir(dataDir);
  if (!(await mountOrSkip(t, ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dataDir]))) {
    await removeDir(base);
    return;
  }
  const sessionId = sessionIdFor('full');
  const marker = `fill the disk ${sessionId}`;
  const recorders: RecorderUnderTest[] = [];
  try {
    // Space to give back later, so that recovery can write its bundle.
    const filler = join(dataDir, 'filler');
    await writeFile(filler, Buffer.alloc(64 * 1024, 0x2e));

    const recorder = RecorderUnderTest.start({ dataDir, keyFile });
    recorders.push(recorder);
    await recorder.ready();
    const pidFile = join(base, 'pty.pid');
    // A few checkpointed lines first, then a flood that fills the disk.
    const script = `echo $$ > ${sh(pidFile)}; for i in 1 2 3 4 5 6; do echo "before the flood $i"; sleep 0.1; done; yes ${sh(marker)} | head -c 50000000`;
    recorder.client.send(openBash({ sessionId, cwd: base, script }));
    const pid = await pidFrom(pidFile);

    const { error, exit } = await expectSessionEndedByFailure(recorder, sessionId, pid, marker);
    assert.match(error.message, /disk is full/);
    assert.match(error.message, /ENOSPC/);
    assert.notEqual(exit.exitCode, 0, 'the session did not end normally');
    const seen = recorder.lastCheckpointSize(sessionId);
    assert.ok(seen > 1, 'checkpoints covered some output before the disk filled');

    const spoolDir = join(dataDir, 'spool', sessionId);
    assert.ok((await stat(join(spoolDir, 'session.cast'))).size > 0, 'what was written stays in the spool');
    await recorder.stop();
    assert.equal(await exists(join(spoolDir, 'meta.json')), true, 'a clean shutdown keeps a failed spool for recovery');

    await rm(filler);
    const recovery: Recovery = await restartAndRecover({ dataDir, keyFile }, sessionId);
    recorders.push(recovery.recorder);
    assertRecoveredPrefix(recovery.bundle, seen);
    assert.equal(await exists(spoolDir), false, 'the spool is removed once its bundle is safe');
  } finally {
    for (const recorder of recorders) {
      recorder.client.kill('SIGKILL');
      await recorder.client.exited;
    }
    killAll(await processesWith(marker));
    await unmount(dataDir);
    await removeDir(base);
  }
});

/**
 * Linux refuses to remount a file system read-only while a file on it is open
 * for writing (EBUSY), and the spool keeps its files open; so `mount -o
 * remount,ro` cannot pull the disk from under a running session. What does, in
 * real life, is a file system that turns itself read-only after an error:
 * ext4 with errors=remount-ro. The kernel lets us raise such an error on demand.
 */
test('a spool whose file system turns read-only mid-session ends the session, naming the read-only file system', async (t) => {
  const base = await tempDir('read-only');
  const dataDir = join(base, 'data');
  const keyFile = join(base, 'keys', 'device-key.json');
  await mkdir(dataDir);
  const image = join(base, 'ext4.img');
  await writeFile(image, '');
  await truncate(image, 32 * 1024 * 1024);
  let loop: string | undefined;
  let mounted = false;
  const sessionId = sessionIdFor('ro');
  const marker = `still working ${sessionId}`;
  let recorder: RecorderUnderTest | undefined;
  try {
    try {
      await tool('mkfs.ext4', ['-q', '-F', image]);
      loop = await tool('losetup', ['-f', '--show', image]);
    } catch (error) {
      t.skip(`needs mkfs.ext4 and a loop device (root) to make a disk that turns read-only: ${(error as Error).message}`);
      return;
    }
    if (!(await mountOrSkip(t, ['-t', 'ext4', '-o', 'errors=remount-ro', loop, dataDir]))) return;
    mounted = true;
    const trigger = `/sys/fs/ext4/${basename(loop)}/trigger_fs_error`;
    if (!(await exists(trigger))) {
      t.skip(`this kernel has no ${trigger} to turn the file system read-only`);
      return;
    }

    recorder = RecorderUnderTest.start({ dataDir, keyFile });
    await recorder.ready();
    const pidFile = join(base, 'pty.pid');
    recorder.client.send(
      openBash({ sessionId, cwd: base, script: `echo $$ > ${sh(pidFile)}; while :; do echo ${sh(marker)} "$(date +%s%N)"; sleep 0.001; done` }),
    );
    const pid = await pidFrom(pidFile);
    const running = recorder;
    await waitUntil('the session has recorded and checkpointed some output', 10_000, () => running.checkpoints(sessionId).filter((c) => c.size > 1).length >= 2);
    assert.equal(recorder.of(sessionId).filter((e) => e.type === 'error').length, 0, 'recording works before the failure');

    await writeFile(trigger, '1'); // ext4_error → emergency read-only
    const { error } = await expectSessionEndedByFailure(recorder, sessionId, pid, marker);
    assert.match(error.message, /read-only/);
    assert.match(error.message, /EROFS/);
    assert.equal(await exists(join(dataDir, 'spool', sessionId, 'session.cast')), true, 'what was written stays in the spool');
  } finally {
    if (recorder !== undefined) {
      recorder.client.kill('SIGKILL');
      await recorder.client.exited;
    }
    killAll(await processesWith(marker));
    if (mounted) await unmount(dataDir);
    if (loop !== undefined) await tool('losetup', ['-d', loop]).catch(() => undefined);
    await removeDir(base);
  }
});

/** A recorder started on a data folder that is read-only from the start (its bundle folder, and maybe a spool folder, exist). */
async function withReadOnlyDataDir(
  t: TestContext,
  label: string,
  folders: readonly string[],
  body: (recorder: RecorderUnderTest, base: string) => Promise<void>,
): Promise<void> {
  const base = await tempDir(label);
  const dataDir = join(base, 'data');
  const keyFile = join(base, 'keys', 'device-key.json');
  await mkdir(dataDir);
  if (!(await mountOrSkip(t, ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dataDir]))) {
    await removeDir(base);
    return;
  }
  let recorder: RecorderUnderTest | undefined;
  try {
    for (const folder of folders) await mkdir(join(dataDir, folder));
    await tool('mount', ['-o', 'remount,ro', dataDir]);
    recorder = RecorderUnderTest.start({ dataDir, keyFile });
    await recorder.ready();
    await body(recorder, base);
  } finally {
    await recorder?.stop();
    await unmount(dataDir);
    await removeDir(base);
  }
}

function openFailure(recorder: RecorderUnderTest, sessionId: string): Promise<ErrorEvent> {
  return recorder.next('the open-failed error', (e): e is ErrorEvent => e.type === 'error' && e.sessionId === sessionId);
}

test('a spool that cannot be created means the program is never started', async (t) => {
  await withReadOnlyDataDir(t, 'no-spool', ['bundles'], async (recorder, base) => {
    const sessionId = sessionIdFor('nospool');
    const startedMarker = join(base, 'the-program-ran');
    recorder.client.send(openBash({ sessionId, cwd: base, script: `touch ${sh(startedMarker)}; echo 'unrecorded output'; sleep 5` }));

    const error = await openFailure(recorder, sessionId);
    assert.equal(error.code, 'open-failed', error.message);
    assert.equal(error.fatal, true);
    assert.match(error.message, /not started/);

    await sleep(700); // long enough for a started program to have touched its marker
    assert.equal(await exists(startedMarker), false, 'the program never ran');
    assert.deepEqual(
      recorder.of(sessionId).map((e) => e.type),
      ['error'],
      'no output, checkpoint, exit or sealed event: there was no session',
    );
    assert.equal(recorder.outputBytes.get(sessionId) ?? 0, 0);
  });
});

for (const [where, folders] of [
  ['the spool folder already exists', ['bundles', 'spool']],
  ['the spool folder does not exist yet', ['bundles']],
] as const) {
  test(`the open-failed message names the read-only file system (${where})`, async (t) => {
    await withReadOnlyDataDir(t, 'ro-message', folders, async (recorder, base) => {
      const sessionId = sessionIdFor('romsg');
      recorder.client.send(openBash({ sessionId, cwd: base, script: 'true' }));
      const error = await openFailure(recorder, sessionId);
      assert.equal(error.code, 'open-failed', error.message);
      assert.match(error.message, /read-only/, 'the user is told the real cause, not a missing folder');
      assert.match(error.message, /EROFS/);
      assert.doesNotMatch(error.message, /ENOENT|no such file/);
    });
  });
}
