/** JSON Web Tokens: three base64url parts, the first two JSON objects (`eyJ` is `{"`). */
import type { SecretRule } from '../types.ts';

export const JWT_RULES: readonly SecretRule[] = [
  {
    id: 'jwt',
    version: 1,
    description: 'JSON Web Token (JWS compact form): eyJ<header>.eyJ<payload>.<signature>',
    category: 'jwt',
    keywords: ['eyj'],
    pattern: String.raw`\b(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)`,
    secretGroup: 1,
    window: { before: 1, after: 12_300, within: 'token' },
  },
];
