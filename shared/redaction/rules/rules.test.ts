import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileRules, scanText } from '../scanner.ts';
import { BUILTIN_RULES, BUILTIN_RULES_VERSION } from './index.ts';
import { BASE64, FAKE, fakeRandom, HEX } from './samples.test-support.ts';

/** A positive sample: `text` holds `secret` once, and exactly `secret` must be masked. */
interface Positive {
  readonly text: string;
  readonly secret: string;
}
interface Samples {
  readonly positives: readonly Positive[];
  /** Look-alikes this rule must not flag. */
  readonly negatives: readonly string[];
}

const p = (before: string, secret: string, after = ''): Positive => ({ text: before + secret + after, secret });
const rnd = fakeRandom(42);
const gitSha = rnd(40, HEX);
const uuid = '123e4567-e89b-12d3-a456-426614174000';
const sha256Digest = 'sha256:' + rnd(64, HEX);
const npmIntegrity = 'sha512-' + rnd(86) + '==';
const goModuleHash = rnd(43, BASE64) + '=';
const lsOutput = '-rw-r--r--  1 admin staff  2048 Mar  3 10:12 password.txt\ndrwxr-xr-x  4 admin staff   128 Mar  3 10:12 secrets';
const english = 'Enter your password to continue. The token expires in one hour; ask for a new token.';

const SAMPLES: Readonly<Record<string, Samples>> = {
  'private-key-block': {
    positives: [
      p('$ cat ~/.ssh/id_ed25519\n', FAKE.opensshKey, '\n$ '),
      p('', FAKE.rsaKey, '\n'),
      p('{"key": "', FAKE.pkcs8Key.trimEnd().replace(/\n/g, '\\n'), '"}'),
      // Truncated (head id_rsa): masked through its base64 lines.
      p('$ head -3 id_rsa\n', FAKE.rsaKey.split('\n').slice(0, 3).join('\n'), '\n$ ls'),
    ],
    negatives: [
      '-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkq\n-----END CERTIFICATE-----',
      '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----',
      'grep -r "BEGIN PRIVATE KEY" .',
    ],
  },
  'gcp-service-account-key': {
    positives: [
      p('{"type": "service_account", "private_key": "', FAKE.pkcs8Key.replace(/\n/g, '\\n'), '", "client_email": "x@y"}'),
      p('  "private_key":"', FAKE.rsaKey.replace(/\n/g, '\\n'), '",'),
    ],
    negatives: ['"private_key": ""', '"private_key": "<your key here>"', '"private_key_id": "' + gitSha + '"'],
  },
  'aws-access-key-id': {
    positives: [p('aws_access_key_id = ', FAKE.awsAccessKeyId), p('"AccessKeyId": "', FAKE.awsTemporaryKeyId, '",')],
    negatives: ['AKIA' + 'IOSFODNN7' + 'EXAMPLE', 'AKIA1234', 'XAKIA' + 'ABCDEFGHIJKLMNOP', 'the AKIA prefix'],
  },
  'aws-secret-access-key': {
    positives: [
      p('aws_secret_access_key = ', FAKE.awsSecretKey),
      p('"SecretAccessKey": "', FAKE.awsSecretKey, '",'),
      p('export AWS_SECRET_ACCESS_KEY=', FAKE.awsSecretKey),
    ],
    negatives: [
      'aws_secret_access_key = ' + gitSha,
      'aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}',
      'aws_secret_access_key =',
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCY' + 'EXAMPLEKEY',
    ],
  },
  'aws-session-token': {
    positives: [p('aws_session_token = ', FAKE.awsSessionToken), p('"SessionToken": "', FAKE.awsSessionToken, '"')],
    negatives: ['aws_session_token = short' + rnd(20), 'SessionToken: <token>'],
  },
  'github-token': {
    positives: [p('GITHUB_TOKEN=', FAKE.githubPat), p('git clone https://x-access-token:', FAKE.githubServer, '@github.com/o/r')],
    negatives: ['ghp_' + '<your-token>', 'ghp_' + 'x'.repeat(10), 'aghp_' + rnd(36), 'ghp_' + '*'.repeat(36)],
  },
  'github-fine-grained-pat': {
    positives: [p('token: ', FAKE.githubFineGrained), p('', FAKE.githubFineGrained, ' ')],
    negatives: ['github_pat_' + '<token>', 'github_pat_' + rnd(12), 'see github_pat_ tokens'],
  },
  'gitlab-token': {
    positives: [p('PRIVATE-TOKEN: ', FAKE.gitlabPat), p('gitlab-runner register --token ', FAKE.gitlabRunner)],
    negatives: ['glpat-' + 'xxxxxxxx', 'glpat-' + '${GITLAB_TOKEN}', 'about glpat- tokens'],
  },
  'slack-token': {
    positives: [p('SLACK_BOT_TOKEN=', FAKE.slackBot), p('"token": "', FAKE.slackUser, '"')],
    negatives: ['xoxb-' + 'your-token-here', 'xoxb-' + 'x'.repeat(20), 'xoxb-123'],
  },
  'slack-webhook': {
    positives: [
      p('curl -X POST https://hooks.slack.com/services/', FAKE.slackWebhookPath, ' -d @msg.json'),
      p('"url": "https://hooks.slack.com/services/', FAKE.slackWebhookPath, '"'),
    ],
    negatives: ['https://hooks.slack.com/services/T000/B000/XXXX', 'see https://hooks.slack.com/ for help'],
  },
  'stripe-key': {
    positives: [p('STRIPE_SECRET_KEY=', FAKE.stripeLive), p('-u ', FAKE.stripeRestricted, ':')],
    negatives: ['sk_live_' + 'xxxxxxxxxxxxxxxxxxxxxxxx', 'sk_live_' + '<key>', 'sk_live_' + 'abc'],
  },
  'google-api-key': {
    positives: [p('https://maps.googleapis.com/maps/api/js?key=', FAKE.googleApiKey, '&callback=x'), p('"api_key": "', FAKE.googleApiKey, '"')],
    negatives: ['AIza' + 'short', 'AIza' + rnd(40) + 'toolong', 'the AIza prefix'],
  },
  'azure-storage-key': {
    positives: [
      p('DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=', FAKE.azureAccountKey, ';EndpointSuffix=core.windows.net'),
      p('Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=', FAKE.azureAccountKey.slice(0, 42) + '=', ''),
    ],
    negatives: ['AccountKey=<key>;', 'AccountKey=${AZURE_KEY}', 'AccountKey=short'],
  },
  'azure-sas-token': {
    positives: [
      p('https://acct.blob.core.windows.net/c/f?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01&sig=', FAKE.azureSasSig, ''),
      p('--sas-token "sv=2022-11-02&sr=c&sig=', FAKE.azureSasSig, '"'),
    ],
    negatives: ['?sig=abc', 'design=' + rnd(40), 'sig=<signature>'],
  },
  'npm-token': {
    positives: [p('//registry.npmjs.org/:_authToken=', FAKE.npmToken), p('NPM_TOKEN=', FAKE.npmToken)],
    negatives: ['npm_' + 'config_cache=/home/u/.npm', 'npm_' + 'x'.repeat(36), 'npm_' + 'lifecycle_event'],
  },
  'pypi-token': {
    positives: [p('password = ', FAKE.pypiToken), p('TWINE_PASSWORD=', FAKE.pypiToken)],
    negatives: ['pypi-' + 'AgEI', 'pypi-' + 'package-name', 'pip install pypi-simple'],
  },
  'dockerhub-pat': {
    positives: [p('echo ', FAKE.dockerPat, ' | docker login -u me --password-stdin'), p('DOCKER_TOKEN=', FAKE.dockerPat)],
    negatives: ['dckr_pat_' + 'xxx', 'dckr_pat_' + '<token>', 'dckr_pat_'],
  },
  'anthropic-api-key': {
    positives: [p('ANTHROPIC_API_KEY=', FAKE.anthropicKey), p('-H "x-api-key: ', FAKE.anthropicKey, '"')],
    negatives: ['sk-ant-' + 'api03-' + 'short', 'sk-ant-' + '...', 'sk-ant-' + 'your-key'],
  },
  'openai-api-key': {
    positives: [p('OPENAI_API_KEY=', FAKE.openaiKey), p('Authorization: Bearer ', FAKE.openaiProject)],
    negatives: ['sk-' + 'your-api-key-goes-here-please', 'sk-' + 'xxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'risk-management-framework-and-guidelines', 'desk-' + rnd(30)],
  },
  'vault-token': {
    positives: [p('export VAULT_TOKEN=', FAKE.vaultService), p('token                ', FAKE.vaultBatch, '\n')],
    negatives: ['hvs.' + 'short', 'hvs.' + 'x'.repeat(30), 'see hvs. docs'],
  },
  'vault-legacy-token': {
    positives: [p('export VAULT_TOKEN=', FAKE.vaultLegacy), p('-H "X-Vault-Token: ', FAKE.vaultLegacy, '"')],
    negatives: ['VAULT_TOKEN=s.' + 'short', 'vault token lookup', 's.' + rnd(24)],
  },
  'twilio-key': {
    positives: [p('TWILIO_API_KEY=', FAKE.twilioApiKey), p('twilio:\n  account_sid: ', FAKE.twilioAccount, '\n')],
    negatives: ['SK' + rnd(32, HEX), 'twilio sid SK' + rnd(10, HEX), 'twilio ACME' + rnd(32, HEX)],
  },
  'sendgrid-api-key': {
    positives: [p('SENDGRID_API_KEY=', FAKE.sendgrid), p('"apiKey": "', FAKE.sendgrid, '"')],
    negatives: ['SG.' + 'short.key', 'msg.' + rnd(22) + '.' + rnd(43), 'SG.' + '<key>'],
  },
  'shopify-token': {
    positives: [p('X-Shopify-Access-Token: ', FAKE.shopifyAccess), p('SHOPIFY_SECRET=', FAKE.shopifySecret)],
    negatives: ['shpat_' + 'x'.repeat(32), 'shpat_' + rnd(20, HEX), 'shpat_' + '<token>'],
  },
  jwt: {
    positives: [p('Authorization: Bearer ', FAKE.jwt), p('{"id_token":"', FAKE.jwtRs, '"}')],
    negatives: ['eyJ' + 'hbGciOi', 'eyJ' + rnd(20) + '.notjwt', 'eyJeyJeyJ.eyJ'],
  },
  'kubernetes-secret-data': {
    positives: [
      p('apiVersion: v1\ndata:\n  password: ', FAKE.base64Password, '\nkind: Secret\nmetadata:\n  name: db-creds\n'),
      p('{"apiVersion":"v1","data":{"api-key":"', btoa(FAKE.randomKey), '"},"kind":"Secret"}'),
    ],
    negatives: [
      'metadata:\n  name: nginx\n  namespace: default\n  uid: ' + uuid + '\n',
      'data:\n  app: test\n  replicas: 3\n',
      'no data: here',
    ],
  },
  'kubernetes-secret-string-data': {
    positives: [
      p('kind: Secret\nstringData:\n  password: ', FAKE.password, '\n'),
      p('stringData:\n  DATABASE_URL: "', 'postgres://u:' + FAKE.password2 + '@db/app', '"\n'),
    ],
    negatives: ['stringData:\n  password: ${DB_PASSWORD}\n', 'stringData: {}\n', 'stringData:\n  password: <your-password>\n'],
  },
  'url-password': {
    positives: [
      p('DATABASE_URL=postgres://app:', FAKE.password, '@db.internal:5432/app'),
      p('mongodb+srv://admin:', FAKE.password2, '@cluster0.example.net/?retryWrites=true'),
      p('redis://:', FAKE.randomKey, '@cache:6379/0'),
    ],
    negatives: [
      'https://github.com/org/repo.git',
      'ssh://git@github.com:22/org/repo',
      'postgres://user:${DB_PASSWORD}@db/app',
      'postgres://user:****@db/app',
      'http://user:<password>@host/',
      'http://localhost:8080/path',
    ],
  },
  'secret-assignment': {
    positives: [
      p('DB_PASSWORD=', FAKE.password),
      p('mytool --password=', FAKE.password2, ' --verbose'),
      p('https://api.example.com/v1?api_key=', FAKE.randomKey, '&page=2'),
      p('export GITHUB_TOKEN=', FAKE.randomKey2),
    ],
    negatives: [
      'password=',
      'DB_PASSWORD=${DB_PASSWORD}',
      'max_tokens=2048',
      'TOKEN_URL=https://auth.example.com/token',
      'password=****',
      english,
      lsOutput,
    ],
  },
  'secret-assignment-yaml': {
    positives: [p('database:\n  password: ', FAKE.password, '\n  user: app\n'), p('- api_key: ', FAKE.randomKey, '\n')],
    negatives: ['password: ', 'password:\n', '  password: ${DB_PASSWORD}\n', 'token_type: Bearer\n', english, '  password: <your-password>\n'],
  },
  'secret-assignment-double-quoted': {
    positives: [
      p('{"user": "app", "password": "', 'correct horse battery staple', '"}'),
      p('export API_TOKEN="', FAKE.randomKey, '"'),
      p('vault write auth/x --client-secret "', FAKE.password2, '"'),
    ],
    negatives: ['"password": ""', '"password": "<your-password>"', '"token": "${TOKEN}"', '"max_tokens": "2048"', english],
  },
  'secret-assignment-single-quoted': {
    positives: [p("password: '", FAKE.password, "'"), p("SECRET_KEY='", FAKE.randomKey2, "'")],
    negatives: ["password: ''", "token: '{{ vault_token }}'", "password: '****'"],
  },
  'cli-secret-flag': {
    positives: [p('$ mytool login --password ', FAKE.password, ' --user admin'), p('gh auth login --with-token; app --token ', FAKE.randomKey)],
    negatives: ['app --password-stdin', 'app --password $PASS', 'app --token <token>', 'app --token ****', english],
  },
  'mysql-password-flag': {
    positives: [p('$ mysql -h db -uroot -p', FAKE.password, ' app'), p('mysqldump -u admin -p', FAKE.password2, ' --all-databases > dump.sql')],
    negatives: ['mysql -u root -p', 'mysql -u root -p app', 'mysql -P 3306 -h db', 'mysql -p$MYSQL_PWD', 'mysql -p<password>'],
  },
  'cli-short-password-flag': {
    positives: [p('docker login -u me -p ', FAKE.password, ' registry.example.com'), p('sshpass -p', FAKE.password2, ' ssh admin@host')],
    negatives: ['docker login -u me --password-stdin', 'sshpass -p $PASS ssh host', 'docker login -p <token>'],
  },
  'curl-user-password': {
    positives: [p('curl -u admin:', FAKE.password, ' https://api.example.com'), p('curl -sS --user "deploy:', FAKE.password2, '" https://x')],
    negatives: ['curl -u admin https://x', 'curl -u admin: https://x', 'curl -u "$USER:$PASS" https://x', 'curl https://x -o file'],
  },
  'authorization-header': {
    positives: [
      p('curl -H "Authorization: Basic ', btoa('admin:' + FAKE.password), '" https://x'),
      p('Authorization: Bearer ', FAKE.randomKey, '\r\n'),
      p('authorization: token ', FAKE.randomKey2, ''),
    ],
    negatives: ['Authorization: Bearer $TOKEN', 'Authorization: Bearer <token>', 'Authorization: Bearer ****', 'Authorization: required'],
  },
  'api-key-header': {
    positives: [p('curl -H "X-API-Key: ', FAKE.randomKey, '" https://x'), p('PRIVATE-TOKEN: ', FAKE.randomKey2, '\n')],
    negatives: ['X-API-Key: $API_KEY', 'X-API-Key: <key>', 'x-api-key: ********'],
  },
  'generic-high-entropy': {
    positives: [
      p('key = ', FAKE.randomKey, '\n'),
      p('echo ', FAKE.randomKey2, ' > key.txt'),
      p('Using signing secret ', rnd(48), '.'),
      // The shape of a Go module hash, without its `h1:`; and base64 of a password pair.
      p('hash ', goModuleHash, ''),
      p('echo ', btoa('deploy:' + FAKE.password), ''),
    ],
    negatives: [
      `github.com/acme/widgets v1.4.2 h1:${goModuleHash}\ngithub.com/acme/widgets v1.4.2/go.mod h1:${rnd(43, BASE64)}=`,
      `i-0${rnd(16, HEX)}\tvpc-0${rnd(16, HEX)}\tami-0${rnd(16, HEX)}\tsubnet-${rnd(8, HEX)}`,
      btoa('deploy api-gateway finished with 0 errors at 2024-05-03 12:40\n'),
      btoa('worker volume is ready at 2024-05-05 21:48\n'),
      `commit ${gitSha}`,
      `id ${uuid}`,
      sha256Digest,
      `"integrity": "${npmIntegrity}"`,
      'md5 ' + rnd(32, HEX) + ' sha512 ' + rnd(128, HEX),
      'web-7d9f8b6c5d-x2x7q   1/1   Running   0   3d',
      '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
      'AbstractSingletonProxyFactoryBean getElementById2Something',
      lsOutput,
      english,
    ],
  },
};

describe('built-in rules', () => {
  it('has a version string and unique kebab-case ids', () => {
    assert.match(BUILTIN_RULES_VERSION, /^builtin-\d+$/);
    const ids = BUILTIN_RULES.map((rule) => rule.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
    for (const rule of BUILTIN_RULES) for (const keyword of rule.keywords) assert.equal(keyword, keyword.toLowerCase(), rule.id);
  });

  it('every rule has at least two positive and two negative samples', () => {
    const missing = BUILTIN_RULES.filter((rule) => {
      const samples = SAMPLES[rule.id];
      return samples === undefined || samples.positives.length < 2 || samples.negatives.length < 2;
    }).map((rule) => rule.id);
    assert.deepEqual(missing, []);
    const stale = Object.keys(SAMPLES).filter((id) => !BUILTIN_RULES.some((rule) => rule.id === id));
    assert.deepEqual(stale, [], 'samples for rules that do not exist');
  });

  it('no sample secret sits in this file as one literal', () => {
    // The fakes are assembled at run time; a sanity check that the assembly really happened.
    for (const value of Object.values(FAKE)) assert.ok(value.length >= 8);
  });

  const all = compileRules(BUILTIN_RULES);
  for (const rule of BUILTIN_RULES) {
    describe(rule.id, () => {
      const alone = compileRules([rule]);
      const samples = SAMPLES[rule.id] ?? { positives: [], negatives: [] };
      samples.positives.forEach(({ text, secret }, index) => {
        it(`positive ${index + 1}: masks exactly the secret`, () => {
          const start = text.indexOf(secret);
          assert.ok(start >= 0 && text.indexOf(secret, start + 1) < 0, 'the sample holds its secret once');
          const spans = scanText(text, alone);
          assert.deepEqual(
            spans.map((s) => text.slice(s.start, s.end)),
            [secret],
            `${rule.id} on ${JSON.stringify(text.slice(0, 120))}`,
          );
          assert.deepEqual(spans, [{ start, end: start + secret.length, ruleId: rule.id }]);
          // With every rule on, the secret is still covered whole.
          const covered = scanText(text, all).some((s) => s.start <= start && s.end >= start + secret.length);
          assert.ok(covered, `full rule set covers the secret in ${JSON.stringify(text.slice(0, 120))}`);
        });
      });
      samples.negatives.forEach((text, index) => {
        it(`negative ${index + 1}: not flagged`, () => {
          const spans = scanText(text, alone);
          assert.deepEqual(spans.map((s) => text.slice(s.start, s.end)), [], `${rule.id} on ${JSON.stringify(text)}`);
        });
      });
    });
  }

  it('innocuous terminal output is not flagged by any rule', () => {
    const screen = [
      lsOutput,
      english,
      `commit ${gitSha}\nAuthor: Dev <dev@example.com>\n`,
      `Digest: ${sha256Digest}`,
      `"integrity": "${npmIntegrity}",`,
      `pod/web-7d9f8b6c5d-x2x7q   1/1   Running   0   3d   uid ${uuid}`,
      'password: ',
      'Password:',
      '[sudo] password for admin: ',
      'export PATH=/usr/local/bin:/usr/bin:/bin',
      'https://github.com/org/repo/blob/main/README.md',
      'max_tokens: 4096\ntoken_type: Bearer\n',
    ].join('\n');
    const spans = scanText(screen, all);
    assert.deepEqual(spans.map((s) => `${s.ruleId}: ${screen.slice(s.start, s.end)}`), []);
  });
});

describe('plain-code finders (SecretRule.find)', () => {
  // A finder replaces re2js on the hot path; the pattern stays the definition. Both are run on
  // random text over the characters that matter to the pattern (piece characters, the `.`, `:`
  // and `=` that split pieces, padding, spaces) and on every rule's samples.
  const withFind = BUILTIN_RULES.filter((rule) => rule.find !== undefined);
  const samples = Object.values(SAMPLES).flatMap((s) => [...s.positives.map((x) => x.text), ...s.negatives]);

  it('at least the generic rule has one', () => {
    assert.ok(withFind.some((rule) => rule.id === 'generic-high-entropy'));
  });

  for (const rule of withFind) {
    it(`${rule.id}: finds exactly what its pattern finds`, () => {
      // Without the accept check, so that what is compared is the matching itself.
      const { find, accept: _accept, ...rest } = rule;
      const fast = compileRules([{ ...rest, find: find! }]);
      const slow = compileRules([rest]);
      const spans = (text: string, rules: ReturnType<typeof compileRules>): string[] => scanText(text, rules).map((s) => `${s.start}-${s.end}`);
      for (const text of samples) assert.deepEqual(spans(text, fast), spans(text, slow), JSON.stringify(text));
      fc.assert(
        fc.property(fc.array(fc.constantFrom('a', 'Z', '7', 'q', 'X', '3', '+', '/', '_', '-', '~', '.', ':', '=', '==', ' ', '\n', 'kP9', 'x2Vb8', 'é'), { maxLength: 200 }), (parts) => {
          const text = parts.join('');
          assert.deepEqual(spans(text, fast), spans(text, slow), JSON.stringify(text));
        }),
        { numRuns: 400 },
      );
    });
  }
});
