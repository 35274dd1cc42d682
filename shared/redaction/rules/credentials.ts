/**
 * Credentials by context: URLs and connection strings with a password, `password=`/`secret:`/
 * `token` assignments (env files, YAML, JSON, CLI flags), Authorization headers. The keyword is
 * the context (`://`, `password`, `authorization`); only the value is masked.
 */
import { isPlaceholder } from '../entropy.ts';
import type { SecretRule } from '../types.ts';

/**
 * Names whose value is a secret. A key must end with one of them, optionally followed by a
 * value-ish suffix (`SECRET_KEY`, `api_key_value`), so `max_tokens`, `token_type`, `tokenizer`,
 * `TOKEN_URL` and `password_hash` are not keys of secrets.
 */
const SECRET_NAME = String.raw`(?:password|passwd|passphrase|secret|token|api[_\-.]?key|apikey|access[_\-.]?key|auth[_\-.]?key|private[_\-.]?key|client[_\-.]?secret|credentials?)`;
const SUFFIX = String.raw`(?:[_\-.]?(?:key|value|text|str|string|b64|base64|base))?`;
/** A key: an identifier that ends with a secret name (`DB_PASSWORD`, `--api-key`, `_authToken`). */
const KEY = String.raw`[A-Za-z0-9_.\-]*${SECRET_NAME}${SUFFIX}`;
const KEYWORDS = [
  'password', 'passwd', 'passphrase', 'secret', 'token', 'api_key', 'api-key', 'api.key', 'apikey',
  'access_key', 'access-key', 'accesskey', 'auth_key', 'auth-key', 'authkey', 'private_key',
  'private-key', 'privatekey', 'credential',
];
/** Key names mean nothing about the value when the value is a placeholder or too short. */
const realValue = (value: string): boolean => value.length >= 4 && !isPlaceholder(value) && !/^\d{1,6}$/.test(value);
/**
 * The window bounds how far a key and its value reach (and the line or map ends them), so the
 * patterns repeat with `*` rather than `{0,511}`: a counted repetition is copied that many times
 * into the RE2 program, and programs that large leave re2js's fast engines (version 2 of these
 * rules; version 1 had the counts, ~5 % slower redaction).
 */
const ASSIGNMENT_WINDOW = { before: 72, after: 600 } as const;

export const CREDENTIAL_RULES: readonly SecretRule[] = [
  {
    id: 'url-password',
    version: 2,
    description: 'Password in a URL or connection string: scheme://user:PASSWORD@host (only the password is masked)',
    category: 'connection-string',
    keywords: ['://'],
    pattern: String.raw`\b[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s:/?#@"'<>\[\]]*:([^\s/?#"'<>]+)@[A-Za-z0-9.\-_\[\]%]`,
    secretGroup: 1,
    window: { before: 34, after: 420, within: 'line' },
    accept: (secret) => !isPlaceholder(decodeURIComponentSafe(secret)),
  },
  {
    id: 'secret-assignment',
    version: 2,
    description: 'Unquoted value assigned with = to a secret-named key: env files, shell, INI, query strings, --flag=value',
    category: 'assignment',
    keywords: KEYWORDS,
    pattern: String.raw`(?i)(?:^|[^A-Za-z0-9_.\-])${KEY}[ \t]*(?:=|:=|=>)[ \t]*([^\s"'\x60,;&<>|(){}\[\]][^\s"'\x60,;&<>|]*)`,
    secretGroup: 1,
    near: { after: { within: 12, anyOf: '=:' } },
    window: { ...ASSIGNMENT_WINDOW, within: 'line' },
    accept: realValue,
  },
  {
    id: 'secret-assignment-yaml',
    version: 2,
    description: 'Plain YAML value of a secret-named key at the start of a line (password: VALUE); the rest of the line is the value',
    category: 'assignment',
    keywords: KEYWORDS,
    pattern: String.raw`(?im)^[ \t]*(?:-[ \t]+)?["']?${KEY}["']?[ \t]*:[ \t]+([^\s"'#|>&*!{}\[\]][^\r\n]*?)[ \t]*\r?$`,
    secretGroup: 1,
    near: { after: { within: 12, anyOf: ':' } },
    window: ASSIGNMENT_WINDOW,
    accept: realValue,
  },
  {
    id: 'secret-assignment-double-quoted',
    version: 2,
    description: 'Double-quoted value of a secret-named key: JSON, YAML, code, shell (`"password": "VALUE"`, `TOKEN="VALUE"`, `--password "VALUE"`)',
    category: 'assignment',
    keywords: KEYWORDS,
    pattern: String.raw`(?i)(?:^|[^A-Za-z0-9_.\-])["']?${KEY}["']?(?:[ \t]*(?:=|:|:=|=>)[ \t]*|[ \t]+)"((?:[^"\\\r\n]|\\.)+)"`,
    secretGroup: 1,
    near: { after: { within: 16, anyOf: '"' } },
    window: { ...ASSIGNMENT_WINDOW, within: 'line' },
    accept: realValue,
  },
  {
    id: 'secret-assignment-single-quoted',
    version: 2,
    description: "Single-quoted value of a secret-named key (`password: 'VALUE'`, `TOKEN='VALUE'`)",
    category: 'assignment',
    keywords: KEYWORDS,
    pattern: String.raw`(?i)(?:^|[^A-Za-z0-9_.\-])["']?${KEY}["']?(?:[ \t]*(?:=|:|:=|=>)[ \t]*|[ \t]+)'([^'\r\n]+)'`,
    secretGroup: 1,
    near: { after: { within: 16, anyOf: "'" } },
    window: { ...ASSIGNMENT_WINDOW, within: 'line' },
    accept: realValue,
  },
  {
    id: 'cli-secret-flag',
    version: 2,
    description: 'Command-line flag with a secret-named long option and a separate value (--password VALUE, --token VALUE)',
    category: 'assignment',
    keywords: KEYWORDS,
    pattern: String.raw`(?i)(?:^|[ \t])--?(?:[a-z0-9]+-){0,4}(?:password|passwd|pass|token|secret|api-?key|access-key|client-secret|auth-token)[ \t]+([^\s"'\x60\-$<][^\s"'\x60]*)`,
    secretGroup: 1,
    near: { before: { within: 32, anyOf: '-' } },
    window: { before: 64, after: 600, within: 'line' },
    accept: realValue,
  },
  {
    id: 'mysql-password-flag',
    version: 2,
    description: 'MySQL/MariaDB client password glued to -p (mysql -uroot -pSECRET)',
    category: 'assignment',
    keywords: ['mysql', 'mariadb'],
    pattern: String.raw`\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mariadb|mariadb-dump)\b[^\r\n]*?[ \t]-p([^\s"'\x60$<][^\s"'\x60]*)`,
    secretGroup: 1,
    window: { before: 0, after: 540, within: 'line' },
    accept: realValue,
  },
  {
    id: 'cli-short-password-flag',
    version: 2,
    description: 'Password after -p for docker/podman/helm login and sshpass (docker login -u me -p SECRET, sshpass -pSECRET)',
    category: 'assignment',
    keywords: [' login', 'sshpass'],
    pattern: String.raw`\b(?:(?:docker|podman|nerdctl|buildah|skopeo|oras|helm(?: registry)?) login|sshpass)\b[^\r\n]*?[ \t]-p[ \t]*([^\s"'\x60\-$<][^\s"'\x60]*)`,
    secretGroup: 1,
    window: { before: 16, after: 540, within: 'line' },
    accept: realValue,
  },
  {
    id: 'curl-user-password',
    version: 2,
    description: 'Password in curl -u/--user user:PASSWORD',
    category: 'assignment',
    keywords: ['curl'],
    pattern: String.raw`\bcurl\b[^\r\n]*?[ \t](?:-u|--user)[ \t]*["']?[^\s:"']+:([^\s"']+)`,
    secretGroup: 1,
    window: { before: 0, after: 700, within: 'line' },
    accept: realValue,
  },
  {
    id: 'authorization-header',
    version: 1,
    description: 'Credential of an Authorization or Proxy-Authorization header: Basic, Bearer, Token, Digest…',
    category: 'auth-header',
    keywords: ['authorization'],
    pattern: String.raw`(?i)\bauthorization["']?[ \t]*[:=][ \t]*["']?(?:basic|bearer|token|apikey|sso-key|ssws|negotiate)[ \t]+([A-Za-z0-9+/=_\-.~:]{6,})`,
    secretGroup: 1,
    window: { before: 8, after: 4200, within: 'line' },
    accept: realValue,
  },
  {
    id: 'api-key-header',
    version: 1,
    description: 'Credential in an API-key header: X-API-Key, X-Auth-Token, Private-Token, X-Vault-Token, X-GitLab-Token…',
    category: 'auth-header',
    keywords: ['x-api-key', 'api-key:', 'x-auth-token', 'private-token', 'x-vault-token', 'x-gitlab-token', 'x-access-token'],
    pattern: String.raw`(?i)\b(?:x-api-key|api-key|x-auth-token|private-token|x-vault-token|x-gitlab-token|x-access-token)["']?[ \t]*:[ \t]*["']?([A-Za-z0-9+/=_\-.~]{8,})`,
    secretGroup: 1,
    window: { before: 4, after: 1100, within: 'line' },
    accept: realValue,
  },
];

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
