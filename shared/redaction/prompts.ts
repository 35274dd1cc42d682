/**
 * Does the screen end with a prompt that asks for hidden input (a password, a
 * passphrase, a PIN, a one-time code, a token)? For sessions where the local
 * pty's ECHO flag says nothing (ssh, sudo with use_pty, tmux: the pty is raw),
 * the recorder combines this with echo absence (issue 3, "Input (keystrokes)").
 *
 * A prompt waits for input, so only the end of the text counts: its last line,
 * which must read `<lead-in> <keyword> <qualifier> <terminator>`, e.g.
 *
 *     [sudo] password for alice:       lead-in "[sudo] ", qualifier " for alice"
 *     Enter passphrase for key '/k':   lead-in "enter ", qualifier " for key '/k'"
 *     [sudo] alice のパスワード:        lead-in "[sudo] alice の"
 *     Mot de passe :                   terminator " :" (French spacing)
 *
 * The qualifier must start like a qualifier (" for ", " de ", " (", …), so that
 * a sentence which merely mentions a password ("the password policy requires:")
 * is not a prompt. Only plain string operations on at most MAX_PROMPT_CHARS of
 * the last line: the cost is linear in the input and bounded by a constant once
 * the last line is found.
 *
 * Pure: runs in Node and in the browser.
 */

export type SecretKind = 'password' | 'passphrase' | 'pin' | 'otp' | 'secret';

export interface PromptMatch {
  readonly kind: SecretKind;
  /** BCP 47 tag of the prompt's language: `en`, `de`, `zh-Hans`, … */
  readonly language: string;
}

/** Prompts are short; a longer last line is looked at through its last this many characters. */
export const MAX_PROMPT_CHARS = 256;
/** At most this much text between the keyword and the terminator (`for key '/root/.ssh/id_ed25519'`). */
const MAX_QUALIFIER_CHARS = 160;
/** At most this much text, and this many words, before the keyword (`[sudo] `, `alice@host's `, `retype new unix `). */
const MAX_LEAD_IN_CHARS = 96;
const MAX_LEAD_IN_WORDS = 6;

interface Keyword {
  /** Lower case, as `toLowerCase()` leaves the screen text. */
  readonly text: string;
  readonly kind: SecretKind;
  readonly language: string;
}

const k = (text: string, kind: SecretKind, language: string): Keyword => ({ text, kind, language });

/**
 * Where two keywords end at the same place ("frase de contraseña" and "contraseña"),
 * the longer one wins, so compound names come with their parts.
 */
const KEYWORDS: readonly Keyword[] = [
  // English (sudo, ssh, PAM, git, psql, mysql, kinit, gpg, openssl, aws, vault)
  k('password', 'password', 'en'),
  k('passphrase', 'passphrase', 'en'),
  k('pass phrase', 'passphrase', 'en'),
  k('pin', 'pin', 'en'),
  k('pin code', 'pin', 'en'),
  k('one-time password', 'otp', 'en'),
  k('one time password', 'otp', 'en'),
  k('one-time code', 'otp', 'en'),
  k('otp', 'otp', 'en'),
  k('otp code', 'otp', 'en'),
  k('totp', 'otp', 'en'),
  k('totp code', 'otp', 'en'),
  k('passcode', 'otp', 'en'),
  k('verification code', 'otp', 'en'),
  k('authentication code', 'otp', 'en'),
  k('authenticator code', 'otp', 'en'),
  k('security code', 'otp', 'en'),
  k('mfa code', 'otp', 'en'),
  k('2fa code', 'otp', 'en'),
  k('two-factor code', 'otp', 'en'),
  k('token code', 'otp', 'en'),
  k('secret', 'secret', 'en'),
  k('client secret', 'secret', 'en'),
  k('secret key', 'secret', 'en'),
  k('secret access key', 'secret', 'en'),
  k('token', 'secret', 'en'),
  k('api key', 'secret', 'en'),
  // German
  k('passwort', 'password', 'de'),
  k('kennwort', 'password', 'de'),
  k('geheimzahl', 'pin', 'de'),
  k('bestätigungscode', 'otp', 'de'),
  k('sicherheitscode', 'otp', 'de'),
  k('einmalpasswort', 'otp', 'de'),
  // French
  k('mot de passe', 'password', 'fr'),
  k('phrase secrète', 'passphrase', 'fr'),
  k('phrase de passe', 'passphrase', 'fr'),
  k('code pin', 'pin', 'fr'),
  k('code de vérification', 'otp', 'fr'),
  k('code de sécurité', 'otp', 'fr'),
  // Spanish
  k('contraseña', 'password', 'es'),
  k('frase de contraseña', 'passphrase', 'es'),
  k('frase de paso', 'passphrase', 'es'),
  k('código de verificación', 'otp', 'es'),
  k('código de seguridad', 'otp', 'es'),
  // Portuguese
  k('senha', 'password', 'pt'),
  k('palavra-passe', 'password', 'pt'),
  k('frase secreta', 'passphrase', 'pt'),
  k('frase-senha', 'passphrase', 'pt'),
  k('código de verificação', 'otp', 'pt'),
  // Italian ("password" and "passphrase" are Italian too: see QUALIFIER_LEADS)
  k("parola d'ordine", 'password', 'it'),
  k('codice di verifica', 'otp', 'it'),
  // Russian
  k('пароль', 'password', 'ru'),
  k('кодовая фраза', 'passphrase', 'ru'),
  k('парольная фраза', 'passphrase', 'ru'),
  k('пин-код', 'pin', 'ru'),
  k('код подтверждения', 'otp', 'ru'),
  // Japanese
  k('パスワード', 'password', 'ja'),
  k('パスフレーズ', 'passphrase', 'ja'),
  k('暗証番号', 'pin', 'ja'),
  k('ワンタイムパスワード', 'otp', 'ja'),
  k('確認コード', 'otp', 'ja'),
  k('認証コード', 'otp', 'ja'),
  // Chinese, simplified and traditional
  k('密码', 'password', 'zh-Hans'),
  k('密碼', 'password', 'zh-Hant'),
  k('口令', 'password', 'zh'),
  k('密码短语', 'passphrase', 'zh-Hans'),
  k('密碼短語', 'passphrase', 'zh-Hant'),
  k('验证码', 'otp', 'zh-Hans'),
  k('驗證碼', 'otp', 'zh-Hant'),
  // Korean
  k('암호', 'password', 'ko'),
  k('비밀번호', 'password', 'ko'),
  k('암호문', 'passphrase', 'ko'),
  k('인증 코드', 'otp', 'ko'),
];

interface QualifierLead {
  readonly text: string;
  /** The language this lead shows, where the keyword is shared ("password di alice" is Italian). */
  readonly language?: string;
}

const q = (text: string, language?: string): QualifierLead => (language === undefined ? { text } : { text, language });

/** How the text between the keyword and the terminator may start. */
const QUALIFIER_LEADS: readonly QualifierLead[] = [
  q(' for '), // password for alice, passphrase for key '…', pin for 'PIV'
  q(' of '),
  q(' to '), // passphrase to unlock …
  q(' or '), // passcode or option (1-3)
  q(' ('), // (again), (empty for no passphrase), (will be hidden)
  q('('),
  q(' ['), // [None], [defaults to SSH password]
  q('['),
  q(' again'),
  q(', try again'),
  q(' für ', 'de'),
  q(' von ', 'de'),
  q(' eingeben', 'de'),
  q(' ein', 'de'),
  q(' erneut', 'de'),
  q(' wiederholen', 'de'),
  q(' de '), // fr, es, pt: mot de passe de alice
  q(' du ', 'fr'),
  q(' pour ', 'fr'),
  q(' para '), // es, pt: contraseña para alice
  q(' di ', 'it'),
  q(' per ', 'it'),
  q(' del ', 'it'),
  q(' della ', 'it'),
  q(' для ', 'ru'),
  q(' от ', 'ru'),
  q('を'), // パスワードを入力してください
  q('을'), // 암호를 / 비밀번호를 입력하십시오 (Korean object markers)
  q('를'),
];

/** Words that make a colon-less last line a prompt: `Enter PIN`, `Please enter your password`. */
const IMPERATIVE_LEAD_INS: readonly string[] = ['enter ', 'enter your ', 'enter the ', 'please enter ', 'please enter your ', 'please enter the ', 'type ', 'type your '];

/** Characters pwfeedback-style prompts print per hidden key (`Password: ****`). */
const FEEDBACK_CHARS = '*•●';
/** Sentence ends: a lead-in begins after the last of them (`Sorry, try again. Password:`). */
const SENTENCE_BREAKS: readonly string[] = ['. ', '! ', '? ', ': ', '。', '！', '？'];

function isBlank(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\u00a0' || ch === '\u3000';
}

function isLetterOrDigit(ch: string | undefined): boolean {
  return ch !== undefined && /[\p{L}\p{N}]/u.test(ch);
}

/** Latin and Cyrillic keywords are whole words; CJK ones sit inside runs without spaces. */
function needsWordBoundary(keyword: string): boolean {
  const first = keyword.codePointAt(0) ?? 0;
  return first < 0x2e80; // below the CJK radicals: Latin, Greek, Cyrillic, …
}

function trimBlankEnd(text: string): string {
  let end = text.length;
  while (end > 0 && isBlank(text[end - 1]!)) end--;
  return text.slice(0, end);
}

/** The last line as it stands on the screen, lower-cased and capped, or undefined if the text ends a line. */
function lastLine(textTail: string): { line: string; truncated: boolean } | undefined {
  let end = textTail.length;
  while (end > 0 && isBlank(textTail[end - 1]!)) end--;
  if (end === 0) return undefined;
  const last = textTail[end - 1];
  if (last === '\n' || last === '\r') return undefined; // the cursor sits on an empty line
  const start = Math.max(textTail.lastIndexOf('\n', end - 1), textTail.lastIndexOf('\r', end - 1)) + 1;
  const capStart = Math.max(start, end - MAX_PROMPT_CHARS);
  let line = textTail.slice(capStart, end);
  const truncated = capStart > start;
  if (truncated) {
    // The cut fell inside the line: drop the partial first word, it is not a word boundary.
    const space = line.indexOf(' ');
    line = space < 0 ? '' : line.slice(space + 1);
  }
  return { line: line.toLowerCase(), truncated };
}

/** Splits `body: ` / `body：` / `body :` into the body, or undefined without a terminator. */
function withoutTerminator(line: string): string | undefined {
  let text = trimBlankEnd(line);
  // pwfeedback echo after the terminator: `password: ***`
  let end = text.length;
  while (end > 0 && FEEDBACK_CHARS.includes(text[end - 1]!)) end--;
  if (end < text.length) text = trimBlankEnd(text.slice(0, end));
  const last = text[text.length - 1];
  if (last !== ':' && last !== '：') return undefined;
  return trimBlankEnd(text.slice(0, -1));
}

function leadInFits(leadIn: string): boolean {
  let start = 0;
  for (const separator of SENTENCE_BREAKS) {
    const at = leadIn.lastIndexOf(separator);
    if (at >= 0) start = Math.max(start, at + separator.length);
  }
  const sentence = leadIn.slice(start).trim();
  if (sentence.length > MAX_LEAD_IN_CHARS) return false;
  let words = 0;
  for (const part of sentence.split(' ')) if (part.length > 0) words++;
  return words <= MAX_LEAD_IN_WORDS;
}

function qualifierLanguage(qualifier: string): { fits: boolean; language?: string } {
  if (qualifier.length === 0) return { fits: true };
  if (qualifier.length > MAX_QUALIFIER_CHARS) return { fits: false };
  // A qualifier names whose secret it is; a second sentence means prose (`… for alice has expired. Change it:`).
  for (const separator of SENTENCE_BREAKS) if (separator !== ': ' && qualifier.includes(separator)) return { fits: false };
  for (const lead of QUALIFIER_LEADS) {
    if (qualifier.startsWith(lead.text)) return lead.language === undefined ? { fits: true } : { fits: true, language: lead.language };
  }
  return { fits: false };
}

/**
 * The keyword occurrence nearest the end of `body` whose lead-in and qualifier
 * fit. `imperativeOnly`: a colon-less line, which counts only as `enter <keyword>`.
 */
function findPrompt(body: string, imperativeOnly: boolean): PromptMatch | undefined {
  let best: { end: number; length: number; match: PromptMatch } | undefined;
  for (const keyword of KEYWORDS) {
    const boundary = needsWordBoundary(keyword.text);
    for (let at = body.lastIndexOf(keyword.text); at >= 0; at = at === 0 ? -1 : body.lastIndexOf(keyword.text, at - 1)) {
      const end = at + keyword.text.length;
      if (best !== undefined && (end < best.end || (end === best.end && keyword.text.length <= best.length))) break;
      if (boundary && (isLetterOrDigit(body[at - 1]) || isLetterOrDigit(body[end]))) continue;
      const leadIn = body.slice(0, at);
      const qualifier = body.slice(end);
      if (imperativeOnly ? !(qualifier.length === 0 && IMPERATIVE_LEAD_INS.includes(leadIn)) : !leadInFits(leadIn)) continue;
      const fit = qualifierLanguage(qualifier);
      if (!fit.fits) continue;
      best = { end, length: keyword.text.length, match: { kind: keyword.kind, language: fit.language ?? keyword.language } };
      break; // earlier occurrences of this keyword end earlier still
    }
  }
  return best?.match;
}

/** Does this (visible, escape-free) text end with a prompt that asks for hidden input? */
export function detectSecretPrompt(textTail: string): PromptMatch | undefined {
  const last = lastLine(textTail);
  if (last === undefined || last.line.length === 0) return undefined;
  const body = withoutTerminator(last.line);
  if (body !== undefined) return body.length === 0 ? undefined : findPrompt(body, false);
  if (last.truncated || !IMPERATIVE_LEAD_INS.some((leadIn) => last.line.startsWith(leadIn))) return undefined;
  return findPrompt(trimBlankEnd(last.line), true);
}
