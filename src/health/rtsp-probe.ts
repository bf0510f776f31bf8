/**
 * A light RTSP health probe: OPTIONS then DESCRIBE on one TCP (rtsp://) or TLS (rtsps://)
 * connection, answering a 401 with Basic or Digest auth from the URL's userinfo, and reading the SDP
 * to learn what the camera streams. Asked to, it also SETUPs the video track over interleaved TCP
 * (then TEARDOWN, never PLAY) to find cameras that answer 461 Unsupported Transport. Far cheaper than
 * starting FFmpeg, and it says *why* a camera fails (refused, 401, 404, 461, no video). Never throws for
 * network problems and never puts the password or a path token in a message.
 */
import { connect, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { redactSecrets, redactUrl, secretsInUrl } from '../config/redact.js';
import type { ProbeFailureReason } from './health-types.js';
import { basicAuthorization, digestAuthorization, parseChallenges, pickChallenge } from './rtsp-auth.js';
import type { AuthChallenge, Credentials } from './rtsp-auth.js';
import { describeSdp, parseSdp } from './sdp.js';
import type { SdpAudioInfo, SdpVideoInfo } from './sdp.js';

export type ProbeResult =
  | { ok: true; video: SdpVideoInfo; audio?: SdpAudioInfo; ms: number }
  | { ok: false; reason: ProbeFailureReason; status?: number; message: string; ms: number };

export interface RtspProbeOptions {
  /** Bound for the whole probe (connect + both requests). Default 5000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
  userAgent?: string;
  /**
   * Check that the camera accepts this transport for the video track: 'tcp' sends SETUP with an
   * interleaved transport and TEARDOWN. 'udp' (or absent) skips the check: a UDP SETUP would need
   * real ports and the camera would start sending to them.
   */
  transport?: 'tcp' | 'udp';
}

export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 256 * 1024;

interface RtspResponse {
  status: number;
  statusText: string;
  /** Header values by lower-cased name (repeated headers keep every value). */
  headers: Map<string, string[]>;
  body: string;
}

/** A failure with its classification; thrown inside the probe, returned as a result outside. */
class ProbeFailure extends Error {
  constructor(
    readonly reason: ProbeFailureReason,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Incremental RTSP response framing (status line, headers, Content-Length body). */
class ResponseReader {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RtspResponse[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const responses: RtspResponse[] = [];
    for (;;) {
      // Interleaved RTP ($ channel len16 payload) cannot occur before PLAY, but skip it if it does.
      if (this.buffer[0] === 0x24) {
        if (this.buffer.length < 4) break;
        const length = 4 + this.buffer.readUInt16BE(2);
        if (this.buffer.length < length) break;
        this.buffer = this.buffer.subarray(length);
        continue;
      }
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buffer.length > MAX_HEADER_BYTES) throw new ProbeFailure('bad_response', 'RTSP response header too large');
        break;
      }
      const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const statusLine = /^RTSP\/\d\.\d\s+(\d{3})\s*(.*)$/.exec(lines[0] ?? '');
      if (!statusLine?.[1]) throw new ProbeFailure('bad_response', `not an RTSP response: "${printable(lines[0] ?? '')}"`);
      const headers = new Map<string, string[]>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
      }
      const length = Number.parseInt(headers.get('content-length')?.[0] ?? '0', 10) || 0;
      if (length > MAX_BODY_BYTES) throw new ProbeFailure('bad_response', `RTSP body too large (${length} bytes)`);
      if (this.buffer.length < end + 4 + length) break;
      const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(end + 4 + length);
      responses.push({ status: Number.parseInt(statusLine[1], 10), statusText: printable(statusLine[2] ?? ''), headers, body });
    }
    return responses;
  }
}

/** Server-controlled text goes into messages: keep it short and printable. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}

interface Target {
  host: string;
  port: number;
  tls: boolean;
  /** Request-URI: the camera URL without userinfo. */
  uri: string;
  credentials?: Credentials;
  /** For messages only. */
  display: string;
}

function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProbeFailure('bad_response', 'camera URL is not a valid URL');
  }
  if (parsed.protocol !== 'rtsp:' && parsed.protocol !== 'rtsps:') {
    throw new ProbeFailure('bad_response', `unsupported scheme "${printable(parsed.protocol)}" (only rtsp:// and rtsps:// can be probed)`);
  }
  const tls = parsed.protocol === 'rtsps:';
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  // 322 is RTSPS's registered port; UniFi Protect uses 7441 and always names it.
  const port = parsed.port ? Number.parseInt(parsed.port, 10) : tls ? 322 : 554;
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const target: Target = {
    host,
    port,
    tls,
    uri: `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search}`,
    display: redactUrl(url),
  };
  if (parsed.username || parsed.password) target.credentials = { username: decode(parsed.username), password: decode(parsed.password) };
  return target;
}

const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
};

/** One RTSP conversation over one socket, with a deadline covering everything. */
class RtspConversation {
  private readonly reader = new ResponseReader();
  private cseq = 0;
  private pending: { cseq: number; resolve: (r: RtspResponse) => void } | undefined;
  private failure: ProbeFailure | undefined;
  private fail: (f: ProbeFailure) => void = () => undefined;
  private challenge: AuthChallenge | undefined;
  private nc = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly target: Target,
    private readonly userAgent: string,
  ) {}

  /** Connects; rejects with a ProbeFailure. `stopped` rejects when the deadline/abort fires. */
  static open(target: Target, userAgent: string, stopped: Promise<never>): Promise<RtspConversation> {
    return new Promise<RtspConversation>((resolve, reject) => {
      // Self-signed certificates are accepted, as FFmpeg does (tls_verify=0): cameras and NVRs ship
      // their own, and the probe must judge the same camera FFmpeg will open.
      const socket = target.tls
        ? connectTls({ host: target.host, port: target.port, rejectUnauthorized: false, ...(isIP(target.host) ? {} : { servername: target.host }) })
        : connect({ host: target.host, port: target.port });
      socket.setNoDelay(true);
      const conversation = new RtspConversation(socket, target, userAgent);
      conversation.fail = reject;
      let connected = false;
      let secured = false;
      socket.once('connect', () => {
        connected = true;
        if (!target.tls) resolve(conversation);
      });
      socket.once('secureConnect', () => {
        secured = true;
        resolve(conversation);
      });
      // Before connect, a failure means unreachable; after it, something answered TCP but hung up
      // on RTSP (session limit, wrong service): that is a bad response, not an outage.
      const reason = (): ProbeFailureReason => (connected ? 'bad_response' : 'unreachable');
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (target.tls && connected && !secured) {
          conversation.abort(new ProbeFailure('bad_response', `TLS handshake with ${target.host}:${target.port} failed (${err.code ?? 'error'}): is it an rtsps:// port?`));
          return;
        }
        const text = (err.code && NETWORK_ERRORS[err.code]) ?? 'connection failed';
        conversation.abort(new ProbeFailure(reason(), `${text} (${err.code ?? err.message}) at ${target.host}:${target.port}`));
      });
      socket.on('close', () => conversation.abort(new ProbeFailure(reason(), `connection closed by ${target.host}:${target.port} without an answer`)));
      socket.on('data', (chunk: Buffer) => conversation.onData(chunk));
      stopped.catch((f: unknown) => conversation.abort(f instanceof ProbeFailure ? f : new ProbeFailure('timeout', 'probe stopped')));
    });
  }

  private onData(chunk: Buffer): void {
    let responses: RtspResponse[];
    try {
      responses = this.reader.push(chunk);
    } catch (err) {
      this.abort(err instanceof ProbeFailure ? err : new ProbeFailure('bad_response', 'unparseable RTSP response'));
      return;
    }
    for (const response of responses) {
      const cseq = Number.parseInt(response.headers.get('cseq')?.[0] ?? '', 10);
      // Some cameras omit CSeq; anything answering while we wait is taken as the answer.
      if (this.pending && (Number.isNaN(cseq) || cseq === this.pending.cseq)) {
        const { resolve } = this.pending;
        this.pending = undefined;
        resolve(response);
      }
    }
  }

  /** First failure wins; later ones (e.g. the close after a reset) are ignored. */
  abort(failure: ProbeFailure): void {
    if (this.failure) return;
    this.failure = failure;
    this.socket.destroy();
    this.fail(failure);
  }

  close(): void {
    this.failure ??= new ProbeFailure('bad_response', 'closed');
    this.socket.destroy();
  }

  private send(method: string, extra: Record<string, string>, uri: string): Promise<RtspResponse> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<RtspResponse>((resolve, reject) => {
      this.fail = reject;
      const cseq = ++this.cseq;
      this.pending = { cseq, resolve };
      const headers: Record<string, string> = { CSeq: String(cseq), 'User-Agent': this.userAgent, ...extra };
      const authorization = this.authorization(method, uri);
      if (authorization) headers['Authorization'] = authorization;
      const head = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      this.socket.write(`${method} ${uri} RTSP/1.0\r\n${head}\r\n`);
    });
  }

  private authorization(method: string, uri: string): string | undefined {
    const { challenge } = this;
    const credentials = this.target.credentials;
    if (!challenge || !credentials) return undefined;
    if (challenge.scheme === 'basic') return basicAuthorization(credentials);
    return digestAuthorization({ challenge, credentials, method, uri, nc: ++this.nc });
  }

  /**
   * Send, answering 401 challenges: once per request when the challenge is new (one from an earlier
   * request may have expired), then only for a stale nonce. Cameras send a fresh nonce with every 401,
   * so a new nonce right after our own answer means the password was rejected: trying again would
   * only count one more failed login against lockout-prone cameras.
   */
  async request(method: string, extra: Record<string, string> = {}, uri = this.target.uri): Promise<RtspResponse> {
    let response = await this.send(method, extra, uri);
    let answered = false;
    for (let attempt = 0; attempt < 2 && response.status === 401; attempt++) {
      const offered = pickChallenge(parseChallenges(response.headers.get('www-authenticate') ?? []));
      if (!offered || !this.target.credentials) break;
      const retry = answered
        ? offered.stale
        : this.challenge === undefined || offered.stale || offered.scheme !== this.challenge.scheme || offered.nonce !== this.challenge.nonce;
      if (!retry) break; // the camera rejected these credentials
      answered = true;
      this.challenge = offered;
      this.nc = 0;
      response = await this.send(method, extra, uri);
    }
    return response;
  }

  get authScheme(): string {
    return this.challenge?.scheme ?? 'none';
  }
}

function statusFailure(method: string, response: RtspResponse, target: Target, auth: string): ProbeFailure {
  const what = `RTSP ${method} ${response.status} ${response.statusText}`.trim();
  switch (response.status) {
    case 401: {
      const detail = target.credentials ? `credentials rejected (${auth} auth)` : 'the URL has no credentials';
      return new ProbeFailure('unauthorized', `${what}: ${detail} for ${target.display}`, 401);
    }
    case 403:
      return new ProbeFailure('forbidden', `${what} for ${target.display}`, 403);
    case 404:
      return new ProbeFailure('not_found', `${what}: no stream at ${target.display}`, 404);
    case 461:
      return new ProbeFailure('unsupported_transport',
        `${what}: the camera refuses RTP over TCP at ${target.display}; set "rtspTransport": "udp" for this camera`, 461);
    default:
      return new ProbeFailure('bad_response', `${what} for ${target.display}`, response.status);
  }
}

/** The aggregate URL: Content-Base (RFC 2326 C.1.1), else the request URL without its query. */
function baseUri(describe: RtspResponse, target: Target): string {
  return describe.headers.get('content-base')?.[0] ?? describe.headers.get('content-location')?.[0] ?? target.uri.replace(/\?.*$/, '');
}

/** The video track's control URL, resolved against the aggregate URL. */
function videoControlUri(describe: RtspResponse, target: Target): string {
  const media = parseSdp(describe.body).media.find((m) => m.type === 'video');
  const control = media?.attributes.find((a) => a.name.toLowerCase() === 'control')?.value.trim() ?? '*';
  if (/^rtsps?:\/\//i.test(control)) return control;
  const base = baseUri(describe, target);
  if (control === '*' || control === '') return base;
  return base.endsWith('/') ? `${base}${control}` : `${base}/${control}`;
}

/**
 * SETUP the video track over interleaved TCP, then TEARDOWN at the aggregate URL (a camera may not
 * know the Request-URI with its query, e.g. UniFi's `?enableSrtp`): proves the camera accepts TCP.
 */
async function checkTcpTransport(conversation: RtspConversation, describe: RtspResponse, target: Target): Promise<void> {
  const setup = await conversation.request('SETUP', { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' }, videoControlUri(describe, target));
  if (setup.status < 200 || setup.status >= 300) throw statusFailure('SETUP', setup, target, conversation.authScheme);
  const session = setup.headers.get('session')?.[0]?.split(';')[0]?.trim();
  if (session) await conversation.request('TEARDOWN', { Session: session }, baseUri(describe, target));
}

async function converse(conversation: RtspConversation, target: Target, transport: RtspProbeOptions['transport']): Promise<{ video: SdpVideoInfo; audio?: SdpAudioInfo }> {
  const options = await conversation.request('OPTIONS');
  // OPTIONS is only a warm-up (and where many cameras first ask for auth). Auth refusals are final;
  // other odd answers (501, even 404 on some firmware) are left for DESCRIBE to judge.
  if (options.status === 401 || options.status === 403) throw statusFailure('OPTIONS', options, target, conversation.authScheme);

  const describe = await conversation.request('DESCRIBE', { Accept: 'application/sdp' });
  if (describe.status < 200 || describe.status >= 300) throw statusFailure('DESCRIBE', describe, target, conversation.authScheme);
  const contentType = describe.headers.get('content-type')?.[0] ?? 'application/sdp';
  if (!/application\/sdp/i.test(contentType) && !describe.body.includes('m=')) {
    throw new ProbeFailure('bad_response', `RTSP DESCRIBE answered with ${printable(contentType)} instead of SDP`, describe.status);
  }
  const { video, audio } = describeSdp(describe.body);
  if (!video) {
    const tracks = describe.body.match(/^m=\w+/gm)?.map((m) => m.slice(2)).join(', ') || 'none';
    throw new ProbeFailure('no_video', `SDP from ${target.display} has no video track (tracks: ${tracks})`, describe.status);
  }
  if (transport === 'tcp') await checkTcpTransport(conversation, describe, target);
  return audio ? { video, audio } : { video };
}

/**
 * Probe an rtsp:// or rtsps:// URL. Resolves with the stream description or a classified failure; every
 * path is bounded by `timeoutMs` and by `signal`.
 */
export async function probeRtsp(url: string, options: RtspProbeOptions = {}): Promise<ProbeResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const secrets: string[] = [];
  const result = (f: ProbeFailure): ProbeResult => {
    const out: ProbeResult = { ok: false, reason: f.reason, message: redactSecrets(f.message, secrets), ms: elapsed() };
    if (f.status !== undefined) out.status = f.status;
    return out;
  };

  let target: Target;
  try {
    target = parseTarget(url);
  } catch (err) {
    return result(err instanceof ProbeFailure ? err : new ProbeFailure('bad_response', 'invalid camera URL'));
  }
  if (target.credentials?.password) secrets.push(target.credentials.password);
  // Path tokens (UniFi Protect) too: a server may echo the Request-URI in a status text.
  secrets.push(...secretsInUrl(url));
  if (options.signal?.aborted) return result(new ProbeFailure('timeout', `probe of ${target.display} aborted`));

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProbeFailure('timeout', `no answer from ${target.display} within ${timeoutMs} ms`)), timeoutMs);
    onAbort = () => reject(new ProbeFailure('timeout', `probe of ${target.display} aborted`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  stopped.catch(() => undefined); // observed below; avoid an unhandled rejection if unused

  let conversation: RtspConversation | undefined;
  try {
    conversation = await Promise.race([RtspConversation.open(target, options.userAgent ?? 'homebridge-cctv', stopped), stopped]);
    const described = await Promise.race([converse(conversation, target, options.transport), stopped]);
    return { ok: true, ...described, ms: elapsed() };
  } catch (err) {
    return result(err instanceof ProbeFailure ? err : new ProbeFailure('bad_response', err instanceof Error ? err.message : String(err)));
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
    conversation?.close();
  }
}
