/**
 * Kubernetes Secrets as printed by `kubectl get secret -o yaml|json` or kept in manifests. The
 * context is the `data:`/`stringData:` key; every `key: value` below it, within the window, is
 * a candidate. Values under `data:` are base64: they must decode to text or be long enough to be
 * key material, which keeps the names and labels of a following `metadata:` block out.
 */
import { isPlaceholder } from '../entropy.ts';
import type { SecretRule } from '../types.ts';

/**
 * Whether `value` is base64 whose bytes are printable UTF-8 text (a password, a URL, a config
 * file) or long enough to be binary key material. Plain words (`nginx`, `default`, `test`)
 * are valid base64 only by accident and decode to bytes that are not text.
 */
export function isSecretBase64(value: string): boolean {
  if (value.length < 4 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch {
    return false;
  }
  if (value.length >= 32) return true;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return false;
  }
  return /^[\P{Cc}\t\r\n]+$/u.test(text);
}

export const KUBERNETES_RULES: readonly SecretRule[] = [
  {
    id: 'kubernetes-secret-data',
    version: 1,
    description: 'Base64 values of a Kubernetes Secret\'s data: map, in YAML (`  key: dmFsdWU=`) or JSON (`"key": "dmFsdWU="`)',
    category: 'kubernetes-secret',
    keywords: ['data:', '"data"'],
    pattern: String.raw`(?m)(?:^[ \t]+["']?[A-Za-z0-9_.\-]{1,253}["']?:[ \t]+["']?|"[A-Za-z0-9_.\-]{1,253}"[ \t]*:[ \t]*")([A-Za-z0-9+/]{4,}={0,2})(?:["']?[ \t]*\r?$|")`,
    secretGroup: 1,
    window: { before: 0, after: 8192, within: 'map' },
    accept: isSecretBase64,
  },
  {
    id: 'kubernetes-secret-string-data',
    version: 1,
    description: 'Plain-text values of a Kubernetes Secret\'s stringData: map in a manifest (every indented `key: value` in the window)',
    category: 'kubernetes-secret',
    keywords: ['stringdata:'],
    pattern: String.raw`(?m)^[ \t]+["']?[A-Za-z0-9_.\-]{1,253}["']?:[ \t]+["']?([^\s"'|>#][^\r\n"']*?)["']?[ \t]*\r?$`,
    secretGroup: 1,
    window: { before: 0, after: 2048, within: 'map' },
    accept: (value) => !isPlaceholder(value),
  },
];
