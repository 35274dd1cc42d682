import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseUserPublicKey, PublicKeyError } from './public-key.ts';

/** Real keys from OpenSSH's own ssh-keygen, so the parser is checked against what clients send. */
async function makeKey(dir: string, name: string, args: readonly string[]): Promise<{ publicLine: string; privateText: string; fingerprint: string }> {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-N', '', '-C', `${name}@laptop with spaces`, '-f', file, ...args]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { publicLine: await readFile(`${file}.pub`, 'utf8'), privateText: await readFile(file, 'utf8'), fingerprint };
}

function refusal(input: string): string {
  try {
    parseUserPublicKey(input);
  } catch (error) {
    assert.ok(error instanceof PublicKeyError, String(error));
    return error.message;
  }
  assert.fail(`accepted ${JSON.stringify(input.slice(0, 60))}`);
}

describe('the public key a client sends for a certificate', () => {
  let dir: string;
  const keys: Record<string, Awaited<ReturnType<typeof makeKey>>> = {};
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-ca-keys-'));
    keys.ed25519 = await makeKey(dir, 'ed25519', ['-t', 'ed25519']);
    keys.p256 = await makeKey(dir, 'p256', ['-t', 'ecdsa', '-b', '256']);
    keys.p384 = await makeKey(dir, 'p384', ['-t', 'ecdsa', '-b', '384']);
    keys.p521 = await makeKey(dir, 'p521', ['-t', 'ecdsa', '-b', '521']);
    keys.rsa3072 = await makeKey(dir, 'rsa3072', ['-t', 'rsa', '-b', '3072']);
    keys.rsa2048 = await makeKey(dir, 'rsa2048', ['-t', 'rsa', '-b', '2048']);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('Ed25519, ECDSA P-256/P-384 and RSA 3072 are accepted, with ssh-keygen\'s own fingerprint and without the comment', () => {
    for (const [name, type, bits] of [
      ['ed25519', 'ssh-ed25519', 256],
      ['p256', 'ecdsa-sha2-nistp256', 256],
      ['p384', 'ecdsa-sha2-nistp384', 384],
      ['rsa3072', 'ssh-rsa', 3072],
    ] as const) {
      const key = parseUserPublicKey(keys[name]!.publicLine);
      assert.equal(key.type, type);
      assert.equal(key.bits, bits);
      assert.equal(key.fingerprint, keys[name]!.fingerprint, name);
      assert.equal(key.line, keys[name]!.publicLine.split(' ').slice(0, 2).join(' '));
      assert.doesNotMatch(key.line, /laptop/);
    }
  });

  test('RSA below 3072 bits, NIST P-521, DSA and security-key types are refused, saying what is accepted', () => {
    assert.match(refusal(keys.rsa2048!.publicLine), /RSA key of 2048 bits is too short: at least 3072/);
    assert.match(refusal(keys.p521!.publicLine), /key type "ecdsa-sha2-nistp521" is not accepted: send .*ssh-ed25519/);
    assert.match(refusal('ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7'), /"ssh-dss" is not accepted/);
    assert.match(refusal('sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t'), /"sk-ssh-ed25519@openssh.com" is not accepted/);
  });

  test('a private key is refused without echoing it', () => {
    const message = refusal(keys.ed25519!.privateText);
    assert.match(message, /this is a private key: keep it on your machine and send only the public key/);
    const body = keys.ed25519!.privateText.split('\n')[1]!;
    assert.ok(!message.includes(body.slice(0, 20)));
  });

  test('a certificate is refused as a certificate', async () => {
    const ca = join(dir, 'ca');
    execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-f', ca]);
    execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', 'x', '-n', 'root', join(dir, 'ed25519.pub')]);
    assert.match(refusal(await readFile(join(dir, 'ed25519-cert.pub'), 'utf8')), /this is a certificate \("ssh-ed25519-cert-v01@openssh.com"\), not a public key/);
  });

  test('several lines, an empty body, oversized input, PEM and RFC 4716 blocks are refused', () => {
    assert.match(refusal(`${keys.ed25519!.publicLine}${keys.p256!.publicLine}`), /must be one line; this has 2 lines/);
    assert.match(refusal(' \n'), /is empty/);
    assert.match(refusal(`ssh-ed25519 ${'A'.repeat(9000)}`), /9012 characters; one OpenSSH public key line is at most 8192/);
    assert.match(refusal('-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----'), /must be one line|PEM/);
    assert.match(refusal('---- BEGIN SSH2 PUBLIC KEY ----'), /RFC 4716 block/);
  });

  test('key data that is not base64, not the named type, cut short, padded or off the curve is refused', () => {
    const [type, data] = keys.ed25519!.publicLine.split(' ') as [string, string];
    const blob = Buffer.from(data, 'base64');
    assert.match(refusal(`${type} not*base64`), /is not base64/);
    assert.match(refusal(type), /no key data after its type/);
    assert.match(refusal(`ssh-rsa ${data}`), /says ssh-rsa but its data holds a key of type "ssh-ed25519"/);
    assert.match(refusal(`${type} ${blob.subarray(0, blob.length - 4).toString('base64')}`), /ends inside its Ed25519 point/);
    assert.match(refusal(`${type} ${Buffer.concat([blob, Buffer.from([0, 0, 0, 0])]).toString('base64')}`), /4 bytes after the key/);
    const p256 = Buffer.from(keys.p256!.publicLine.split(' ')[1]!, 'base64');
    p256[p256.length - 1]! ^= 1; // y no longer matches x
    assert.match(refusal(`ecdsa-sha2-nistp256 ${p256.toString('base64')}`), /not on the nistp256 curve/);
  });

  test('one trailing newline (a .pub file as read) is fine', () => {
    assert.equal(parseUserPublicKey(`${keys.ed25519!.publicLine.trim()}\r\n`).type, 'ssh-ed25519');
  });
});
