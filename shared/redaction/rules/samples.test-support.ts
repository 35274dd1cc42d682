/**
 * Fake secrets for the redaction tests, built at run time from parts and a seeded generator so
 * that no real-looking secret sits in the source as one literal (and secret scanners pointed at
 * this repository stay quiet).
 */
import { xorshift32 } from '../../test-random.ts';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
export const BASE62 = UPPER + LOWER + DIGITS;
export const BASE64 = BASE62 + '+/';
export const BASE64URL = BASE62 + '-_';
export const HEX = '0123456789abcdef';
export const BASE32 = UPPER + '234567';

/** A deterministic generator of random-looking strings (xorshift32). */
export function fakeRandom(seed: number): (length: number, alphabet?: string) => string {
  const next = xorshift32(seed);
  return (length, alphabet = BASE62) => {
    // Make sure the result mixes classes the way real tokens do (a digit and both cases).
    for (;;) {
      let out = '';
      for (let i = 0; i < length; i++) out += alphabet[next() % alphabet.length];
      if (alphabet !== BASE62 || (/[0-9]/.test(out) && /[a-z]/.test(out) && /[A-Z]/.test(out))) return out;
    }
  };
}

const rnd = fakeRandom(20_250_101);
const b64 = (text: string): string => btoa(text);
const jwtPart = (json: string): string => btoa(json).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** Named fake secrets, one of each kind; `join` keeps the prefixes out of the source as literals. */
export const FAKE = {
  awsAccessKeyId: ['AK', 'IA', rnd(16, BASE32)].join(''),
  awsTemporaryKeyId: ['AS', 'IA', rnd(16, BASE32)].join(''),
  awsSecretKey: rnd(40, BASE64).replace(/^[+/]/, 'a'),
  awsSessionToken: 'IQoJb3JpZ2luX2Vj' + rnd(300, BASE64),
  githubPat: ['gh', 'p_', rnd(36)].join(''),
  githubServer: ['gh', 's_', rnd(36)].join(''),
  githubFineGrained: ['github', '_pat_', rnd(22), '_', rnd(59)].join(''),
  gitlabPat: ['gl', 'pat-', rnd(20, BASE62 + '_-').replace(/^[-_]/, 'x')].join(''),
  gitlabRunner: ['gl', 'rt-', rnd(26)].join(''),
  slackBot: ['xo', 'xb-', rnd(12, DIGITS), '-', rnd(13, DIGITS), '-', rnd(24)].join(''),
  slackUser: ['xo', 'xp-', rnd(12, DIGITS), '-', rnd(12, DIGITS), '-', rnd(13, DIGITS), '-', rnd(32, HEX)].join(''),
  slackWebhookPath: ['T', rnd(8, UPPER + DIGITS), '/B', rnd(10, UPPER + DIGITS), '/', rnd(24)].join(''),
  stripeLive: ['sk', '_live_', rnd(24)].join(''),
  stripeRestricted: ['rk', '_live_', rnd(99)].join(''),
  googleApiKey: ['AI', 'za', 'Sy', rnd(33, BASE64URL)].join(''),
  azureAccountKey: rnd(86, BASE64) + '==',
  azureSasSig: rnd(43, BASE62) + '%3D',
  npmToken: ['np', 'm_', rnd(36)].join(''),
  pypiToken: ['py', 'pi-', 'AgEIcHlwaS5vcmc', rnd(120, BASE64URL)].join(''),
  dockerPat: ['dc', 'kr_pat_', rnd(27, BASE64URL)].join(''),
  openaiKey: ['s', 'k-', rnd(20), 'T3Blbk', 'FJ', rnd(20)].join(''),
  openaiProject: ['s', 'k-', 'proj-', rnd(64, BASE64URL).replace(/^[-_]/, 'Q'), rnd(8)].join(''),
  anthropicKey: ['s', 'k-', 'ant-', 'api03-', rnd(93, BASE64URL), 'AA'].join(''),
  vaultService: ['hv', 's.', rnd(90, BASE64URL)].join(''),
  vaultBatch: ['hv', 'b.', rnd(110)].join(''),
  vaultLegacy: ['s', '.', rnd(24)].join(''),
  twilioApiKey: ['S', 'K', rnd(32, HEX)].join(''),
  twilioAccount: ['A', 'C', rnd(32, HEX)].join(''),
  sendgrid: ['S', 'G.', rnd(22, BASE64URL), '.', rnd(43, BASE64URL)].join('').replace(/[-_](?=\.|$)/g, 'x'),
  shopifyAccess: ['shp', 'at_', rnd(32, HEX)].join(''),
  shopifySecret: ['shp', 'ss_', rnd(32, HEX)].join(''),
  jwt: [jwtPart('{"alg":"HS256","typ":"JWT"}'), jwtPart(`{"sub":"${rnd(12)}","iat":1700000000}`), rnd(43, BASE64URL)].join('.'),
  jwtRs: [jwtPart('{"alg":"RS256","kid":"k1"}'), jwtPart('{"iss":"https://idp","exp":1900000000}'), rnd(342, BASE64URL)].join('.'),
  opensshKey: [
    '-----BEGIN OPENSSH ', 'PRIVATE KEY-----\n',
    'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n',
    rnd(70, BASE64), '\n', rnd(70, BASE64), '\n', rnd(24, BASE64), '==\n',
    '-----END OPENSSH ', 'PRIVATE KEY-----',
  ].join(''),
  rsaKey: [
    '-----BEGIN RSA ', 'PRIVATE KEY-----\n',
    'MIIEpAIBAAKCAQEA', rnd(48, BASE64), '\n', rnd(64, BASE64), '\n', rnd(20, BASE64), '=\n',
    '-----END RSA ', 'PRIVATE KEY-----',
  ].join(''),
  pkcs8Key: ['-----BEGIN ', 'PRIVATE KEY-----\n', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', rnd(32, BASE64), '\n-----END ', 'PRIVATE KEY-----\n'].join(''),
  password: 'Tr0ub4dor!3x',
  password2: 'hunter2' + rnd(4),
  base64Password: b64('s3cr3t-' + rnd(6)),
  randomKey: rnd(32),
  randomKey2: rnd(40, BASE64).replace(/^[+/]/, 'Z'),
} as const;
