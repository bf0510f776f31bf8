/**
 * Redaction for everything we print or publish: camera and broker URLs carry passwords in their
 * userinfo or query string, and FFmpeg echoes its input URL in errors.
 */

const MASK = '***';

/** Query parameters that cameras commonly use to carry credentials. */
const SECRET_QUERY_KEYS = /^(pass(word)?|pwd|passwd|token|auth|key|secret|access_token|api_key|apikey|signature|sig)$/i;

/** Replace the password in a URL's userinfo and secret query values with `***`. Never throws. */
export function redactUrl(url: string): string {
  // Userinfo: scheme://user:password@host → scheme://user:***@host (works on unparseable URLs too).
  // Like FFmpeg, the host starts after the *last* '@' before the path, so a raw '@' in the password
  // (or an e-mail address as the user) is part of the userinfo and masked whole.
  let out = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#\s:]*):([^/?#]*)@/i, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`);
  out = out.replace(/([?&])([^=&#\s]+)=([^&#\s]*)/g, (m, sep: string, key: string) =>
    SECRET_QUERY_KEYS.test(key) ? `${sep}${key}=${MASK}` : m);
  return out;
}

/** Every URL-looking token in free text (e.g. FFmpeg stderr) gets {@link redactUrl}. */
export function redactUrlsInText(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (m) => redactUrl(m));
}

/**
 * Replace each non-empty secret (and its URL-encoded form) wherever it appears. Used as the last
 * line of defence on log lines, errors and MQTT payloads, after {@link redactUrlsInText}.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    try {
      forms.add(decodeURIComponent(secret));
    } catch {
      // A secret with a lone % is not URL-encoded; the raw form is enough.
    }
  }
  // Longest first so a secret containing another is masked whole.
  for (const form of [...forms].filter((f) => f.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(form).join(MASK);
  }
  return out;
}

/** The passwords embedded in a URL's userinfo or secret query parameters, for {@link redactSecrets}. */
export function secretsInUrl(url: string): string[] {
  const secrets: string[] = [];
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(url);
  const colon = userinfo?.[1]?.indexOf(':') ?? -1;
  if (userinfo?.[1] && colon >= 0) {
    const raw = userinfo[1].slice(colon + 1);
    if (raw) secrets.push(raw);
  }
  for (const m of url.matchAll(/[?&]([^=&#\s]+)=([^&#\s]*)/g)) {
    if (m[1] && m[2] && SECRET_QUERY_KEYS.test(m[1])) secrets.push(m[2]);
  }
  return secrets;
}
