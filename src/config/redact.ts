/**
 * Redaction for everything we print or publish: camera and broker URLs carry passwords in their
 * userinfo, query string or path (UniFi Protect tokens, DVR `user=…_password=…` paths), and FFmpeg
 * echoes its input URL in errors.
 */

const MASK = '***';

/** Parameter names that cameras commonly use to carry credentials, in the query or in the path. */
const SECRET_KEYS = 'pass(?:word)?|pwd|passwd|token|auth|key|secret|access_token|api_key|apikey|signature|sig';
const SECRET_QUERY_KEYS = new RegExp(`^(?:${SECRET_KEYS})$`, 'i');

/**
 * A credential inside the path, as some DVRs take it: `/user=admin_password=s3cr3t_channel=1_stream=0.sdp`.
 * The key follows `/`, `_`, `;` or `&`; the value runs to the next `_name=` or to a URL delimiter, so
 * an underscore inside the password stays part of it.
 */
const PATH_PARAM = new RegExp(`([/_;&])(${SECRET_KEYS})=(.*?)(?=_[a-z][a-z0-9]*=|[/?#&;\\s]|$)`, 'gi');

/** UniFi Protect's RTSP(S) ports: the first path segment is the stream's access token. */
const PROTECT_PORTS = new Set(['7441', '7447']);

/** scheme://authority, then the path, then query and fragment. */
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(.*)$/is;

/**
 * A path segment that is a bearer token rather than a name: long, letters and digits only, and
 * random-looking (at least two of upper case, lower case, digits). `stream1`, `h264Preview_01_main`
 * and `cam/realmonitor` are names; `AbCdEfGh12345678` is a token.
 */
function isTokenSegment(segment: string, index: number, port: string | undefined): boolean {
  if (!/^[A-Za-z0-9]+$/.test(segment)) return false;
  if (index === 0 && port !== undefined && PROTECT_PORTS.has(port) && segment.length >= 8) return true;
  if (segment.length < 16) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((r) => r.test(segment)).length;
  return classes >= 2;
}

function portOf(authority: string): string | undefined {
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  return /:(\d+)$/.exec(host)?.[1];
}

/** Each path segment with its index among the non-empty segments. */
function mapPathSegments(path: string, port: string | undefined, onToken: (segment: string) => string): string {
  let index = 0;
  return path.split('/').map((segment) => {
    if (!segment) return segment;
    const out = isTokenSegment(segment, index, port) ? onToken(segment) : segment;
    index++;
    return out;
  }).join('/');
}

/** Replace the password in a URL's userinfo, secret query values and secrets in its path with `***`. Never throws. */
export function redactUrl(url: string): string {
  // Userinfo: scheme://user:password@host → scheme://user:***@host (works on unparseable URLs too).
  // Like FFmpeg, the host starts after the *last* '@' before the path, so a raw '@' in the password
  // (or an e-mail address as the user) is part of the userinfo and masked whole.
  let out = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#\s:]*):([^/?#]*)@/i, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`);
  out = out.replace(/([?&])([^=&#\s]+)=([^&#\s]*)/g, (m, sep: string, key: string) =>
    SECRET_QUERY_KEYS.test(key) ? `${sep}${key}=${MASK}` : m);
  const parts = URL_PARTS.exec(out);
  if (parts) {
    const [, scheme = '', authority = '', path = '', rest = ''] = parts;
    const maskedPath = mapPathSegments(path.replace(PATH_PARAM, (_m, sep: string, key: string) => `${sep}${key}=${MASK}`), portOf(authority), () => MASK);
    out = scheme + authority + maskedPath + rest;
  }
  return out;
}

/** Every URL-looking token in free text (e.g. FFmpeg stderr) gets {@link redactUrl}. */
export function redactUrlsInText(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (m) => redactUrl(m));
}

/**
 * Shorter than this, a secret is too likely to occur in unrelated text ("a", "12", "on") to be
 * replaced wherever it appears: it is masked only in its URL positions (above) and, if it contains a
 * symbol, where it stands alone as a word.
 */
const MIN_LITERAL_LENGTH = 4;
const WORD_EDGE = `\\s'"()<>\\[\\],`;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
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
    if (form.length >= MIN_LITERAL_LENGTH) {
      out = out.split(form).join(MASK);
    } else if (/[^\p{L}\p{N}]/u.test(form)) {
      out = out.replace(new RegExp(`(^|[${WORD_EDGE}])${escapeRegExp(form)}(?=$|[${WORD_EDGE}])`, 'gu'), (_m, before: string) => `${before}${MASK}`);
    }
  }
  return out;
}

/** The secrets embedded in a URL's userinfo, secret query parameters and path, for {@link redactSecrets}. */
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
  const parts = URL_PARTS.exec(url);
  if (parts) {
    const [, , authority = '', path = ''] = parts;
    for (const m of path.matchAll(PATH_PARAM)) if (m[3]) secrets.push(m[3]);
    mapPathSegments(path, portOf(authority), (segment) => {
      secrets.push(segment);
      return segment;
    });
  }
  return secrets;
}

/**
 * Bidirectional-text controls (LRM/RLM, embeddings, overrides, isolates, the Arabic letter mark):
 * in a log line they can make a camera name display as different text, or reorder the rest of the line.
 */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** Removes bidi controls; C0/C1 controls and line separators become a space (they would break the line). */
export function printableText(text: string): string {
  return text.replace(BIDI_CONTROLS, '').replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' ');
}

/** A camera name as logs print it: {@link printableText}, whitespace collapsed and trimmed. */
export function printableName(name: string): string {
  return printableText(name).replace(/\s+/g, ' ').trim();
}
