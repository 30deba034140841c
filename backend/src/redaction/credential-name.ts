/**
 * Words that, as a whole word of a field's name, say its value is a credential whatever the value
 * looks like. Whole words, not pieces: `maxTokens`, `passenger` and `secretary` name no credential,
 * while `token`, `accessToken` and `X-Auth-Token` do; `pass` alone is left out (`boarding_pass`,
 * `passRate`), `password` and `passcode` are in. Plurals are listed where a list of such
 * values is still credentials (`secrets`, `cookies`); `tokens` is not, as it counts model tokens.
 * Two-word names count joined (`api_key` → `apikey`, `privateKey` → `privatekey`).
 */
const credentialWords: ReadonlySet<string> = new Set([
  'password',
  'passwords',
  'passwd',
  'passphrase',
  'passcode',
  'secret',
  'secrets',
  'token',
  'apikey',
  'apikeys',
  'auth',
  'authorization',
  'cookie',
  'cookies',
  'credential',
  'credentials',
  'privatekey',
  'signature',
]);

/**
 * Whether a field named `name` holds a credential, by the words of the name: `apiKey`, `APIToken`,
 * `api_key`, `X-Auth-Token` and `client.secret` split into words at case changes and at anything
 * that is not a letter or digit. The one rule for every place that hides values by their name
 * (session context, tool arguments in events, usage records and transcripts). Linear in the
 * name's length.
 */
export function isCredentialName(name: string): boolean {
  const words = name
    // `apiKey` → `api Key`; `APIToken` → `API Token` (an acronym ends before its last capital).
    .replace(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/g, ' ')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  return words.some((word, i) => credentialWords.has(word) || credentialWords.has(word + (words[i + 1] ?? '')));
}
