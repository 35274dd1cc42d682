/**
 * The verifier is pure and runs in the browser: built by Vite (vite.config.ts)
 * into one ES module, loaded by real Chromium from a loopback server, it
 * verifies a bundle recorded by the real recorder with its default (@noble)
 * crypto, and finds a tampered copy. This is what the offline viewer will do.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { readZip, writeZip, type TrustRoot } from '../shared/bundle/index.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';

let work: string;
let server: Server;
let origin: string;
let browser: Browser | undefined;
/** Line index (0-based, the header is line 0) of the event the tampered bundle edits. */
let editedLine = -1;
const files = new Map<string, { type: string; body: Uint8Array | string }>();

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'custody-browser-'));
  const outDir = join(work, 'verifier');
  await build({ root: ROOT, configFile: join(ROOT, 'vite.config.ts'), logLevel: 'silent', build: { outDir } });

  // A real recording, made with the CLI and its recorder process.
  const env = { ...process.env, CUSTODY_HOME: join(work, 'home') };
  const bundlePath = join(work, 'session.custody');
  execFileSync(process.execPath, [join(ROOT, 'bin/custody.js'), 'record', '--out', bundlePath, '--', 'bash', '-c', 'printf "browser check \\342\\234\\223\\n"'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const trustRoot = execFileSync(process.execPath, [join(ROOT, 'bin/custody.js'), 'keys', 'trust-root'], { env, encoding: 'utf8' });
  const bundle = new Uint8Array(await readFile(bundlePath));
  const entries = readZip(bundle);
  const cast = entries.get('recording/session.cast')!;
  const edited = new Uint8Array(cast);
  const at = edited.indexOf(0x63 /* c */, cast.indexOf(0x0a) + 1);
  assert.ok(at > 0, 'the recording holds the output "browser check"');
  edited[at] = 0x43; // "check" → "Check" in an event
  editedLine = cast.subarray(0, at).filter((byte) => byte === 0x0a).length;
  entries.set('recording/session.cast', edited);

  files.set('/verifier.js', { type: 'text/javascript', body: await readFile(join(outDir, 'custody-verifier.js')) });
  files.set('/session.custody', { type: 'application/zip', body: bundle });
  files.set('/tampered.custody', { type: 'application/zip', body: writeZip([...entries].map(([name, data]) => ({ name, data }))) });
  files.set('/trust.json', { type: 'application/json', body: trustRoot });
  files.set('/', { type: 'text/html', body: '<!doctype html><meta charset="utf-8"><title>verifier</title>' });

  server = createServer((req, res) => {
    const file = files.get(req.url ?? '');
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'content-security-policy': "default-src 'self'" });
    res.end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  origin = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  await rm(work, { recursive: true, force: true });
});

async function verifyInBrowser(bundleUrl: string): Promise<{ status: string; trusted: boolean; firstFinding: { status: string; events?: readonly number[] | undefined } | undefined }> {
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  const result = await page.evaluate(async (url) => {
    // Runs in the page: the module is the Vite build served above, typed as its source.
    const moduleUrl = '/verifier.js';
    const verifier = (await import(moduleUrl)) as typeof import('../shared/bundle/index.ts');
    const bundle = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const trustRoot = (await (await fetch('/trust.json')).json()) as TrustRoot;
    const report = verifier.verifyBundle(bundle, { trustRoot });
    const first = report.findings.find((f) => f.status === report.status);
    return { status: report.status, trusted: report.trusted, firstFinding: first && { status: first.status, events: first.location.events } };
  }, bundleUrl);
  await page.close();
  return result;
}

test('the browser build of the verifier finds a real recording intact and trusted', { skip: !existsSync(CHROMIUM) && 'no Chromium at /usr/bin/chromium' }, async () => {
  const result = await verifyInBrowser('/session.custody');
  assert.equal(result.status, 'intact');
  assert.equal(result.trusted, true);
});

test('the browser build of the verifier locates an edited event', { skip: !existsSync(CHROMIUM) && 'no Chromium at /usr/bin/chromium' }, async () => {
  const result = await verifyInBrowser('/tampered.custody');
  assert.equal(result.status, 'tampered');
  assert.equal(result.firstFinding?.status, 'tampered');
  // Localised to the checkpoint interval that holds the edited line (the first interval may also
  // hold the header when the output came before the opening checkpoint was cut).
  const events = result.firstFinding?.events;
  assert.ok(events !== undefined && events[0]! <= editedLine && editedLine < events[1]!, `line ${editedLine} lies in the reported events ${JSON.stringify(events)}`);
});
