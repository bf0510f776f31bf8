/**
 * A camera's streams: the main stream (`source`) and its `substreams`, each its own SharedSource,
 * created on first use and opened only while held (each keeps the usual linger). Holds what each
 * stream is known to be (its feed, else its start-up probe, else the config's size hint) and asks
 * the pure chooser (stream-choice.ts) which stream serves a viewer or a snapshot.
 *
 * Owner of every substream SharedSource: `close()` stops them. The main source is the camera's and
 * is closed by it (prebuffer, recording and health stay on the main stream).
 */
import type { Log } from '../logging.js';
import { reordersFrames } from './feed-stream-info.js';
import type { SharedSource } from './shared-source.js';
import {
  chooseSnapshotStream, chooseViewerStream, describeCandidate, streamCandidate,
  type SizeRequest, type StreamCandidate, type ViewerChoice,
} from './stream-choice.js';

/** What a start-up probe (RTSP DESCRIBE) learned about one stream. */
export interface StreamProbeInfo {
  codec?: string;
  width?: number;
  height?: number;
  /** The SDP's audio codec (`aac`, `pcm_alaw`, ...), or 'none'. */
  audioCodec?: string;
  /**
   * The camera refused the login for this stream: it is not chosen (each feed start would be one
   * more rejection on the login gate the main stream shares). The main stream is always a candidate.
   */
  refused?: boolean;
}

export interface StreamSpec {
  name: string;
  url: string;
  width?: number;
  height?: number;
}

export interface CameraStreamsInit {
  /** The camera's main SharedSource, named "main". */
  main: SharedSource;
  mainUrl: string;
  substreams: readonly StreamSpec[];
  createSource: (spec: StreamSpec) => SharedSource;
  /**
   * One DESCRIBE of a stream (through the camera's login gate); undefined when it gave no answer
   * (asked again later); one that answered is not asked again.
   */
  probe: (url: string, signal: AbortSignal) => Promise<StreamProbeInfo | undefined>;
  /** How long a viewer waits for the start-up probes before choosing from what is known. */
  probeWaitMs: number;
  /**
   * A stream whose probe gave no answer (camera still booting after a power cut, network down) is
   * probed again at a viewer's choice, at most this often (default 60 s).
   */
  reprobeAfterMs?: number;
  log: Log;
}

const REPROBE_AFTER_MS = 60_000;

export interface FeedPick {
  source: SharedSource;
  stream: string;
  /** Chosen among several streams: a picture larger than asked is copied (video-mode.ts sizeChosen). */
  sizeChosen: boolean;
  /** For the session's log line: which stream and why. */
  note: string;
  /** The start-up probe of this stream, a hint for copy/transcode until the feed has shown its SPS. */
  probe: StreamProbeInfo | undefined;
}

interface StreamEntry {
  spec: StreamSpec;
  source: SharedSource | undefined;
  probe: StreamProbeInfo | undefined;
}

export const MAIN_STREAM = 'main';

export class CameraStreams {
  private readonly entries: StreamEntry[];
  private readonly controller = new AbortController();
  private learned: Promise<void> | undefined;
  /** When the last probe round ended with a stream unanswered (performance.now()). */
  private unansweredAt: number | undefined;
  private closed = false;

  constructor(private readonly init: CameraStreamsInit) {
    this.entries = [
      { spec: { name: MAIN_STREAM, url: init.mainUrl }, source: init.main, probe: undefined },
      ...init.substreams.map((spec) => ({ spec, source: undefined, probe: undefined })),
    ];
  }

  /** More than one stream: viewers and snapshots choose among them. */
  get multiple(): boolean {
    return this.entries.length > 1;
  }

  get main(): SharedSource {
    return this.init.main;
  }

  /**
   * Probes every stream (start-up), so the first viewer can choose before any stream was opened.
   * A stream whose probe fails is known only by its feed (once it ran) or its size hint until a
   * later viewer's choice probes it again (at most every `reprobeAfterMs`).
   */
  learn(): Promise<void> {
    // Without a retry, streams unknown at start-up stay unknown: viewers then transcode (or get a
    // substream by its size hint) for as long as Homebridge runs, even once the camera is up.
    if (this.learned && this.unansweredAt !== undefined && !this.closed
      && performance.now() - this.unansweredAt >= (this.init.reprobeAfterMs ?? REPROBE_AFTER_MS)) {
      this.learned = undefined;
      this.unansweredAt = undefined;
    }
    this.learned ??= Promise.all(this.entries.filter((entry) => entry.probe === undefined).map(async (entry) => {
      try {
        entry.probe = await this.init.probe(entry.spec.url, this.controller.signal);
      } catch (error) {
        this.init.log.debug(`stream ${entry.spec.name}: probe failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (entry.probe?.audioCodec && entry.source) entry.source.audioCodecHint = entry.probe.audioCodec;
      if (entry.probe?.refused && entry.spec.name !== MAIN_STREAM) {
        this.init.log.warn(`stream ${entry.spec.name}: the camera refused the login, so this stream is not used (check the user name and password in its source)`);
      } else if (entry.probe) this.init.log.debug(`stream ${describeCandidate(this.candidate(entry))} (probe)`);
    })).then(() => {
      if (this.entries.some((entry) => entry.probe === undefined)) this.unansweredAt = performance.now();
    });
    return this.learned;
  }

  candidates(): StreamCandidate[] {
    return this.usable().map((entry) => this.candidate(entry));
  }

  /** The streams a viewer or snapshot may get: the main one, and every substream not refused. */
  private usable(): StreamEntry[] {
    return this.entries.filter((entry) => entry.spec.name === MAIN_STREAM || entry.probe?.refused !== true);
  }

  /** The stream a viewer gets (stream-choice.ts rule), waiting a bounded time for the start-up probes. */
  async viewerFeed(request: SizeRequest, mode: 'auto' | 'copy' | 'transcode', signal: AbortSignal, copyFailed: ReadonlySet<string> = new Set()): Promise<FeedPick> {
    if (this.multiple) await this.probesOrTimeout(signal);
    const candidates = this.usable().map((entry) => this.candidate(entry, copyFailed.has(entry.spec.name)));
    const choice: ViewerChoice = chooseViewerStream(candidates, request, mode);
    const name = choice.kind === 'none' ? MAIN_STREAM : choice.stream;
    const entry = this.entry(name);
    const chosen = candidates.find((c) => c.name === name);
    const why = choice.kind === 'none' ? 'the only stream' : choice.why;
    return {
      source: this.sourceOf(entry),
      stream: name,
      sizeChosen: this.multiple && choice.kind === 'copy',
      note: this.multiple ? `stream ${chosen ? describeCandidate(chosen) : name}: ${why}` : '',
      probe: entry.probe,
    };
  }

  /** The stream a snapshot decodes: one already live, else the smallest at least the requested size. */
  snapshotFeed(width: number, height: number): SharedSource {
    if (!this.multiple) return this.init.main;
    const name = chooseSnapshotStream(this.candidates(), { width, height }) ?? MAIN_STREAM;
    const entry = this.entry(name);
    this.init.log.debug(`snapshot ${width}x${height} from stream ${name}${entry.source?.live === true ? ' (live)' : ''}`);
    return this.sourceOf(entry);
  }

  /** Stops the probes and every substream feed (not the main one: the camera owns it). */
  async close(): Promise<void> {
    this.closed = true;
    this.controller.abort('closed');
    const substreams = this.entries.map((e) => e.source).filter((s): s is SharedSource => s !== undefined && s !== this.init.main);
    await Promise.all(substreams.map((s) => s.close()));
  }

  private async probesOrTimeout(signal: AbortSignal): Promise<void> {
    const learned = this.learn();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        learned,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.init.probeWaitMs);
          onAbort = resolve;
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  private candidate(entry: StreamEntry, copyFailed = false): StreamCandidate {
    const source = entry.source;
    const info = source?.streamInfo;
    return streamCandidate({
      name: entry.spec.name,
      ...(info?.videoCodec ? { feed: { videoCodec: info.videoCodec, ...(info.sps ? { sps: info.sps } : {}), reorders: reordersFrames(info) } } : {}),
      ...(entry.probe ? { probe: entry.probe } : {}),
      hint: { width: entry.spec.width, height: entry.spec.height },
      live: source?.live ?? false,
      copyFailed,
    });
  }

  private entry(name: string): StreamEntry {
    const found = this.entries.find((e) => e.spec.name === name) ?? this.entries[0];
    if (!found) throw new Error('a camera has at least its main stream');
    return found;
  }

  private sourceOf(entry: StreamEntry): SharedSource {
    if (entry.source) return entry.source;
    if (this.closed) throw new Error('the camera is shutting down');
    const source = this.init.createSource(entry.spec);
    if (entry.probe?.audioCodec) source.audioCodecHint = entry.probe.audioCodec;
    entry.source = source;
    return source;
  }
}
