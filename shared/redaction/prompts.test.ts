import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { detectSecretPrompt, MAX_PROMPT_CHARS, type PromptMatch } from './prompts.ts';

type Expected = readonly [prompt: string, kind: PromptMatch['kind'], language: string];

/** Prompts as the programs print them (sudo, ssh, PAM, git, …), each with the trailing space they leave. */
const PROMPTS: Record<string, readonly Expected[]> = {
  English: [
    ['Password: ', 'password', 'en'],
    ['password for alice: ', 'password', 'en'],
    ['[sudo] password for alice: ', 'password', 'en'],
    ["alice@host's password: ", 'password', 'en'],
    ['(alice@db01.example.com) Password: ', 'password', 'en'],
    ["Enter passphrase for key '/root/.ssh/id_ed25519': ", 'passphrase', 'en'],
    ['Enter passphrase for /root/.ssh/id_rsa: ', 'passphrase', 'en'],
    ['Enter passphrase (empty for no passphrase): ', 'passphrase', 'en'],
    ['Enter same passphrase again: ', 'passphrase', 'en'],
    ['Enter PEM pass phrase:', 'passphrase', 'en'],
    ['Enter PIN', 'pin', 'en'],
    ['Enter PIN: ', 'pin', 'en'],
    ["Enter PIN for 'PIV Card Holder pin (PIV_II)': ", 'pin', 'en'],
    ['Verification code: ', 'otp', 'en'],
    ['OTP: ', 'otp', 'en'],
    ['Enter MFA code for arn:aws:iam::123456789012:mfa/alice: ', 'otp', 'en'],
    ['Passcode or option (1-3): ', 'otp', 'en'],
    ["One-time password (OATH) for `alice': ", 'otp', 'en'],
    ['Enter secret: ', 'secret', 'en'],
    ['Vault token: ', 'secret', 'en'],
    ['Token (will be hidden): ', 'secret', 'en'],
    ["Password for 'https://alice@github.com': ", 'password', 'en'],
    ['Password for user postgres: ', 'password', 'en'],
    ['Enter password: ', 'password', 'en'],
    ['Retype new UNIX password: ', 'password', 'en'],
    ['(current) UNIX password: ', 'password', 'en'],
    ['BECOME password[defaults to SSH password]: ', 'password', 'en'],
    ['Sorry, try again.\r\n[sudo] password for alice: ', 'password', 'en'],
    ['Permission denied, please try again. Password:', 'password', 'en'],
    ['[sudo] password for alice: ****', 'password', 'en'],
    ['PASSWORD:', 'password', 'en'],
  ],
  German: [
    ['Passwort: ', 'password', 'de'],
    ['Kennwort: ', 'password', 'de'],
    ['[sudo] Passwort für alice: ', 'password', 'de'],
    ['Neues Passwort: ', 'password', 'de'],
    ["Passphrase für Schlüssel '/root/.ssh/id_ed25519' eingeben: ", 'passphrase', 'de'],
  ],
  French: [
    ['Mot de passe : ', 'password', 'fr'],
    ['[sudo] Mot de passe de alice : ', 'password', 'fr'],
    ['Nouveau mot de passe : ', 'password', 'fr'],
    ["Saisissez la phrase secrète pour la clé '/root/.ssh/id_ed25519' : ", 'passphrase', 'fr'],
  ],
  Spanish: [
    ['Contraseña: ', 'password', 'es'],
    ['[sudo] contraseña para alice: ', 'password', 'es'],
    ["Introduzca la frase de contraseña para la clave '/root/.ssh/id_ed25519': ", 'passphrase', 'es'],
  ],
  Portuguese: [
    ['Senha: ', 'password', 'pt'],
    ['[sudo] senha para alice: ', 'password', 'pt'],
    ['Nova palavra-passe: ', 'password', 'pt'],
  ],
  Japanese: [
    ['パスワード: ', 'password', 'ja'],
    ['[sudo] alice のパスワード: ', 'password', 'ja'],
    ['パスワードを入力してください：', 'password', 'ja'],
    ["鍵 '/root/.ssh/id_ed25519' のパスフレーズを入力してください: ", 'passphrase', 'ja'],
  ],
  Chinese: [
    ['密码：', 'password', 'zh-Hans'],
    ['[sudo] alice 的密码：', 'password', 'zh-Hans'],
    ['请输入密码: ', 'password', 'zh-Hans'],
    ['密碼：', 'password', 'zh-Hant'],
    ['[sudo] alice 的密碼：', 'password', 'zh-Hant'],
    ['验证码：', 'otp', 'zh-Hans'],
  ],
  Italian: [
    ['[sudo] password di alice: ', 'password', 'it'],
    ['Codice di verifica: ', 'otp', 'it'],
  ],
  Russian: [
    ['Пароль: ', 'password', 'ru'],
    ['[sudo] пароль для alice: ', 'password', 'ru'],
    ['Новый пароль: ', 'password', 'ru'],
  ],
  Korean: [
    ['[sudo] alice의 암호: ', 'password', 'ko'],
    ['비밀번호: ', 'password', 'ko'],
  ],
};

for (const [language, prompts] of Object.entries(PROMPTS)) {
  test(`${language} prompts for hidden input are recognised, with their kind and language`, () => {
    for (const [prompt, kind, tag] of prompts) {
      assert.deepEqual(detectSecretPrompt(prompt), { kind, language: tag }, JSON.stringify(prompt));
    }
  });
}

test('a prompt counts after earlier output and with or without its trailing blanks', () => {
  const expected = { kind: 'password', language: 'en' };
  assert.deepEqual(detectSecretPrompt('$ sudo systemctl restart nginx\r\n[sudo] password for alice:'), expected);
  assert.deepEqual(detectSecretPrompt('[sudo] password for alice:   \t'), expected);
  assert.deepEqual(detectSecretPrompt('progress 99%\r[sudo] password for alice: '), expected, 'a carriage return starts the visible line again');
  assert.deepEqual(detectSecretPrompt('Passwort:\u00a0'), { kind: 'password', language: 'de' });
});

const NOT_PROMPTS: readonly [why: string, text: string][] = [
  ['empty', ''],
  ['blanks only', '   \t'],
  ['a report, not a question', 'password changed successfully'],
  ['a report ending in the keyword but without a terminator', 'passwd: password updated successfully'],
  ['an instruction followed by more output', 'Enter the password in the form below\r\nLoading form...\r\n'],
  ['an instruction followed by a newline: the cursor is on an empty line', '[sudo] password for alice:\r\n'],
  ['a line that merely contains password in the middle', 'the password policy requires:'],
  ['the keyword in the middle of a sentence', 'Your password will expire in 3 days'],
  ['an echoed grep', '$ grep password file'],
  ['an echoed grep with a colon', "$ grep -rn 'password' ."],
  ['grep output ending in a colon elsewhere', 'config.yaml:12: password_hash:'],
  ['a shell prompt in a folder named passwords', 'alice@host:~/passwords$ '],
  ['a keyword that is part of a longer word', 'Spin:'],
  ['a ping report', 'ping:'],
  ['tokens is not token', 'Tokens:'],
  ['a second sentence after the keyword', 'Your password for alice has expired. Change it now:'],
  ['prose that names the keyword late', 'In this chapter we will talk at length about the many uses of a password:'],
  ['a colon-less line that is not an imperative', 'reset password'],
  ['only a terminator', ':'],
];

test('text that does not end with a prompt for hidden input is not one', () => {
  for (const [why, text] of NOT_PROMPTS) assert.equal(detectSecretPrompt(text), undefined, `${why}: ${JSON.stringify(text)}`);
});

test('only the last line counts: a prompt answered, then more output, is no longer waiting', () => {
  assert.equal(detectSecretPrompt('[sudo] password for alice: \r\nalice is not in the sudoers file.\r\n$ '), undefined);
  assert.equal(detectSecretPrompt('Password: \r\nLast login: Mon Nov 24 09:00:00 2025\r\nalice@db01:~$ '), undefined);
});

test('a last line longer than the cap is looked at through its end, and a keyword cut by the cap is not matched', () => {
  const long = 'x'.repeat(10_000);
  assert.deepEqual(detectSecretPrompt(`${long} ${'y '.repeat(50)}\r\nPassword: `), { kind: 'password', language: 'en' });
  // The cap falls inside "xpassword": what is left of it is not a word of its own.
  const cut = `${'x'.repeat(MAX_PROMPT_CHARS)}password:`;
  assert.equal(detectSecretPrompt(cut.slice(cut.length - MAX_PROMPT_CHARS - 3)), undefined);
});

test('the answer depends only on the last MAX_PROMPT_CHARS characters of the last line, so the work per call is bounded', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 600 }), fc.constantFrom('', 'Password: ', '[sudo] password for alice: ', 'Mot de passe : ', '密码：'), (prefix, prompt) => {
      const text = prefix + prompt;
      const lineStart = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r')) + 1;
      const kept = text.slice(Math.max(lineStart, text.length - MAX_PROMPT_CHARS - 64));
      // Prepending anything before the kept tail never changes the verdict once the tail holds the whole cap.
      if (text.length - lineStart > MAX_PROMPT_CHARS + 64) {
        assert.deepEqual(detectSecretPrompt(text), detectSecretPrompt(`${'z'.repeat(5000)}${kept}`));
      }
    }),
  );
});

test('never throws, on any text, including lone surrogates and control characters', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
      const match = detectSecretPrompt(text);
      assert.ok(match === undefined || typeof match.kind === 'string');
    }),
  );
});

test('hostile input (a megabyte of keywords, qualifiers and terminators on one line) is answered after bounded work', () => {
  // Bounded by construction: only the last MAX_PROMPT_CHARS characters are examined. A step counter
  // would need hooks in the matcher; instead pin that the verdict equals the verdict on the tail alone.
  for (const unit of ['password for ', 'password: ', 'パスワード', '(', ' ', 'a'.repeat(7)]) {
    const hostile = unit.repeat(Math.ceil(1_000_000 / unit.length));
    for (const end of ['', ':', 'password:']) {
      const text = hostile + end;
      assert.deepEqual(detectSecretPrompt(text), detectSecretPrompt('q'.repeat(MAX_PROMPT_CHARS) + text.slice(-MAX_PROMPT_CHARS)), `${JSON.stringify(unit)} + ${JSON.stringify(end)}`);
    }
  }
});
