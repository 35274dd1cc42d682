/** A recording recovered after a crash still says how much was redacted: counted from its markers. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeSuite, nodeZipCodec, RecorderClient, newSessionId, type RecorderEvent } from '../recorder/index.ts';
import { verifyBundle } from '../shared/bundle/index.ts';
import { DEFAULT_POLICY } from '../shared/redaction/policy.ts';

test('a recovered bundle counts the redactions its markers record', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'custody-recount-'));
  try {
    const token = 'gh' + 'p_' + 'R7s6T5u4V3w2X1y0Z9a8B7c6D5e4F3g2H1i0';
    const first = RecorderClient.start({ dataDir });
    await first.ready;
    const sessionId = newSessionId();
    let checkpointed = 0;
    first.on((e) => {
      if (e.type === 'checkpoint' && e.sessionId === sessionId) checkpointed = e.size;
    });
    first.send({
      type: 'open',
      sessionId,
      command: '/bin/bash',
      args: ['-c', `printf 'GITHUB_TOKEN=%s\\n' '${token}'; exec sleep 30`],
      cwd: dataDir,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TERM: 'xterm-256color' },
      cols: 80,
      rows: 24,
      metadata: {},
      knownSecrets: [],
      redactionPolicy: { ...DEFAULT_POLICY, version: 'test', recordInput: true },
    });
    // Wait until the redaction marker is in the spool and a signed checkpoint covers it.
    const cast = join(dataDir, 'spool', sessionId, 'session.cast');
    for (let tries = 0; ; tries++) {
      assert.ok(tries < 400, 'the redaction marker was not checkpointed within 20 s');
      const lines = (await readFile(cast, 'utf8').catch(() => '')).split('\n');
      const markerLine = lines.findIndex((line) => line.includes('"m","redacted github-token'));
      if (markerLine >= 0 && checkpointed > markerLine) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    first.kill('SIGKILL');
    await first.exited;

    const second = RecorderClient.start({ dataDir });
    const recovered = second.waitFor((e: RecorderEvent) => e.type === 'sealed' && e.sessionId === sessionId);
    await second.ready;
    const sealed = (await recovered) as Extract<RecorderEvent, { type: 'sealed' }>;
    await second.stop();
    assert.equal(sealed.recovered, true);
    const bytes = new Uint8Array(await readFile(sealed.bundlePath));
    const report = verifyBundle(bytes, { suite: nodeSuite, zipCodec: nodeZipCodec });
    assert.deepEqual(report.session?.redaction.counts, { 'provider-token': 1 });
    assert.ok(!new TextDecoder().decode(bytes).includes(token.slice(4, 14)));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
