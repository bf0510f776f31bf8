/**
 * RTSP authentication (RFC 2617 / 7616 as used by RTSP 1.0 cameras): parse `WWW-Authenticate`
 * challenges and build `Authorization` headers for Basic and Digest (MD5, MD5-sess, SHA-256;
 * qop=auth or the legacy no-qop form). Pure apart from the random cnonce.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface AuthChallenge {
  scheme: 'basic' | 'digest';
  realm: string;
  nonce?: string;
  opaque?: string;
  algorithm?: string;
  /** The qop options offered, lower-cased (e.g. ['auth', 'auth-int']). */
  qop: string[];
  stale: boolean;
}

export interface Credentials {
  username: string;
  password: string;
}

function parseParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const m of text.matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    if (!m[1]) continue;
    params.set(m[1].toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? ''));
  }
  return params;
}

/** Parse one or more `WWW-Authenticate` header values (a value may hold several challenges). */
export function parseChallenges(headers: readonly string[]): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  for (const header of headers) {
    // "Digest realm=…, nonce=…, Basic realm=…": split before each scheme token.
    for (const part of header.split(/,?\s*(?=\b(?:Digest|Basic)\s)/i)) {
      const m = /^\s*(Digest|Basic)\s+(.*)$/is.exec(part);
      if (!m?.[1]) continue;
      const params = parseParams(m[2] ?? '');
      const scheme = m[1].toLowerCase() === 'digest' ? 'digest' : 'basic';
      const challenge: AuthChallenge = {
        scheme,
        realm: params.get('realm') ?? '',
        qop: (params.get('qop') ?? '')
          .split(',')
          .map((q) => q.trim().toLowerCase())
          .filter((q) => q.length > 0),
        stale: (params.get('stale') ?? '').toLowerCase() === 'true',
      };
      const nonce = params.get('nonce');
      const opaque = params.get('opaque');
      const algorithm = params.get('algorithm');
      if (nonce !== undefined) challenge.nonce = nonce;
      if (opaque !== undefined) challenge.opaque = opaque;
      if (algorithm !== undefined) challenge.algorithm = algorithm;
      if (scheme === 'basic' || challenge.nonce !== undefined) challenges.push(challenge);
    }
  }
  return challenges;
}

function hashName(algorithm: string | undefined): 'md5' | 'sha256' | undefined {
  const a = (algorithm ?? 'MD5').toUpperCase();
  if (a === 'MD5' || a === 'MD5-SESS') return 'md5';
  if (a === 'SHA-256' || a === 'SHA-256-SESS') return 'sha256';
  return undefined;
}

/** Digest with a supported algorithm beats Basic (never send the password in clear if we can avoid it). */
export function pickChallenge(challenges: readonly AuthChallenge[]): AuthChallenge | undefined {
  return challenges.find((c) => c.scheme === 'digest' && hashName(c.algorithm) !== undefined) ?? challenges.find((c) => c.scheme === 'basic');
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

export interface DigestInput {
  challenge: AuthChallenge;
  credentials: Credentials;
  method: string;
  uri: string;
  /** Request count for this nonce (qop=auth only), starting at 1. */
  nc: number;
  /** Client nonce; random when omitted (tests pass a fixed one). */
  cnonce?: string;
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The `Authorization: Digest …` value, or undefined for an algorithm we do not support. */
export function digestAuthorization(input: DigestInput): string | undefined {
  const { challenge, credentials, method, uri } = input;
  const hash = hashName(challenge.algorithm);
  if (!hash || challenge.nonce === undefined) return undefined;
  const h = (s: string): string => createHash(hash).update(s, 'utf8').digest('hex');
  const nonce = challenge.nonce;
  const useQop = challenge.qop.includes('auth');
  const cnonce = input.cnonce ?? randomBytes(8).toString('hex');
  const nc = input.nc.toString(16).padStart(8, '0');
  let ha1 = h(`${credentials.username}:${challenge.realm}:${credentials.password}`);
  if ((challenge.algorithm ?? '').toUpperCase().endsWith('-SESS')) ha1 = h(`${ha1}:${nonce}:${cnonce}`);
  const ha2 = h(`${method}:${uri}`);
  const response = useQop ? h(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`) : h(`${ha1}:${nonce}:${ha2}`);
  const parts = [
    `username=${quote(credentials.username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(nonce)}`,
    `uri=${quote(uri)}`,
    `response=${quote(response)}`,
  ];
  if (challenge.algorithm !== undefined) parts.push(`algorithm=${challenge.algorithm}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  if (useQop) parts.push('qop=auth', `nc=${nc}`, `cnonce=${quote(cnonce)}`);
  return `Digest ${parts.join(', ')}`;
}
