/**
 * Secret-leak checks for captured Homebridge logs and MQTT payloads. A secret counts as leaked in
 * its raw form, URL-encoded (component and form encoding), or base64-encoded at any byte alignment
 * (e.g. inside a Basic `Authorization` header or a base64 blob).
 */
import assert from 'node:assert/strict';

/** Every text form of `secret` we look for; base64 forms are the characters determined by the secret alone. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  const component = encodeURIComponent(secret);
  forms.add(component);
  forms.add(component.replace(/%20/g, '+'));
  forms.add(encodeURI(secret));
  const bytes = Buffer.from(secret, 'utf8');
  for (let pad = 0; pad < 3; pad++) {
    // With `pad` bytes before it, base64 groups g0..g1-1 hold only secret bytes, whatever surrounds them.
    const encoded = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const g0 = Math.ceil(pad / 3);
    const g1 = Math.floor((pad + bytes.length) / 3);
    const stable = encoded.slice(g0 * 4, g1 * 4);
    if (stable.length >= 8) forms.add(stable);
    // Plus the base64url alphabet.
    if (stable.length >= 8) forms.add(stable.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...forms].filter((f) => f.length > 0);
}

/** Where (text index and form) the first leak of any secret is, or undefined. */
export function findSecret(texts: readonly string[], secrets: readonly string[]): { secret: string; form: string; text: string } | undefined {
  for (const secret of secrets) {
    if (!secret) continue;
    const forms = secretForms(secret);
    for (const text of texts) {
      for (const form of forms) {
        if (text.includes(form)) return { secret, form, text };
      }
    }
  }
  return undefined;
}

/** Fails naming the secret, the form it leaked in, and the offending text (shortened). */
export function assertNoSecrets(texts: readonly string[], secrets: readonly string[]): void {
  assert.ok(secrets.length > 0, 'assertNoSecrets needs at least one secret');
  assert.ok(texts.length > 0, 'assertNoSecrets needs something to search (no captured text?)');
  const leak = findSecret(texts, secrets);
  if (!leak) return;
  const at = leak.text.indexOf(leak.form);
  const excerpt = leak.text.slice(Math.max(0, at - 120), at + leak.form.length + 120);
  assert.fail(`secret ${JSON.stringify(leak.secret)} leaked as ${JSON.stringify(leak.form)} in: ${JSON.stringify(excerpt)}`);
}
