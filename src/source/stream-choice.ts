/**
 * Which of a camera's streams (main + `substreams`) serves a viewer or a snapshot. Pure; the camera's
 * CameraStreams (camera-streams.ts) feeds it what each stream's feed or probe has shown.
 *
 * Rule: a viewer gets a copy of the smallest H.264 stream that is at least the size it asked for;
 * if none is that large, the largest H.264 stream (copy never upscales, HomeKit scales on the phone).
 * When no stream can be copied (all H.265, or the camera's mode is transcode), the viewer gets a
 * transcode of the best (largest) stream. Snapshots use a stream already live if any, else the
 * smallest stream at least the requested size (else the largest).
 */

export interface StreamCandidate {
  name: string;
  /** Codec from the feed or probe ('h264', 'h265', ...); undefined when not known yet. */
  codec?: string;
  width?: number;
  height?: number;
  /** The stream's shared feed is running now. */
  live?: boolean;
}

export interface SizeRequest {
  width: number;
  height: number;
}

export type ViewerChoice =
  | { kind: 'copy'; stream: string; why: string }
  | { kind: 'transcode'; stream: string; why: string }
  | { kind: 'none' };

const area = (s: StreamCandidate): number => (s.width ?? 0) * (s.height ?? 0);
const covers = (s: StreamCandidate, r: SizeRequest): boolean => (s.width ?? 0) >= r.width && (s.height ?? 0) >= r.height;

/** Smallest stream covering the request, else the largest; ties keep configuration order. */
function fittest(streams: readonly StreamCandidate[], request: SizeRequest): StreamCandidate | undefined {
  const covering = streams.filter((s) => covers(s, request));
  if (covering.length > 0) return covering.reduce((best, s) => (area(s) < area(best) ? s : best));
  return largest(streams);
}

function largest(streams: readonly StreamCandidate[]): StreamCandidate | undefined {
  return streams.reduce<StreamCandidate | undefined>((best, s) => (best === undefined || area(s) > area(best) ? s : best), undefined);
}

export function chooseViewerStream(streams: readonly StreamCandidate[], request: SizeRequest, mode: 'auto' | 'copy' | 'transcode'): ViewerChoice {
  if (streams.length === 0) return { kind: 'none' };
  // A stream of unknown codec is taken as H.264 only in copy mode (the user said so).
  const copyable = mode === 'transcode' ? [] : streams.filter((s) => s.codec === 'h264' || (mode === 'copy' && s.codec === undefined));
  const copy = fittest(copyable, request);
  if (copy) {
    const size = `${request.width}x${request.height}`;
    const why = copy.width === undefined || copy.height === undefined
      ? 'size not known yet'
      : covers(copy, request) ? `the smallest H.264 stream at least ${size}` : `the largest H.264 stream (none is ${size})`;
    return { kind: 'copy', stream: copy.name, why };
  }
  const best = largest(streams) ?? streams[0];
  if (!best) return { kind: 'none' };
  const why = mode === 'transcode' ? 'video mode is transcode' : 'no stream is H.264';
  return { kind: 'transcode', stream: best.name, why };
}

export function chooseSnapshotStream(streams: readonly StreamCandidate[], request: SizeRequest): string | undefined {
  const live = streams.filter((s) => s.live === true);
  if (live.length > 0) return fittest(live, request)?.name;
  return fittest(streams, request)?.name;
}

/** What is known about one stream, from the most to the least trustworthy. */
export interface CandidateEvidence {
  name: string;
  /** The stream's own feed (PMT + SPS), once it has run. */
  feed?: { videoCodec?: string; sps?: { width: number; height: number; profileIdc?: number }; reorders?: boolean };
  /** The RTSP probe's SDP/SPS of this stream. */
  probe?: { codec?: string; width?: number; height?: number };
  /** The size the user declared (config), used only until the stream has told its own. */
  hint?: { width?: number; height?: number };
  live: boolean;
  /** Copy of this stream gave no frames before (auto mode): transcode it from now on. */
  copyFailed?: boolean;
}

/** H.264 profiles HomeKit decodes: Baseline, Main, High. */
const HOMEKIT_PROFILES: ReadonlySet<number> = new Set([66, 77, 100]);

/**
 * One stream as the chooser sees it: the feed's codec and SPS size win over the probe's, which win
 * over the config's size hint. H.264 with B-frames, a profile HomeKit does not decode, or whose copy
 * gave no frames before is not offered for copy.
 */
export function streamCandidate(e: CandidateEvidence): StreamCandidate {
  const probeCodec = e.probe?.codec?.toLowerCase();
  let codec = e.feed?.videoCodec ?? (probeCodec === 'hevc' ? 'h265' : probeCodec);
  // Kept apart from 'h264' so the chooser does not offer them for copy (still candidates for transcode).
  const profile = e.feed?.sps?.profileIdc;
  if (codec === 'h264' && e.feed?.reorders === true) codec = 'h264-reordered';
  else if (codec === 'h264' && profile !== undefined && !HOMEKIT_PROFILES.has(profile)) codec = `h264-profile-${profile}`;
  else if (codec === 'h264' && e.copyFailed === true) codec = 'h264-copy-failed';
  const width = e.feed?.sps?.width ?? e.probe?.width ?? e.hint?.width;
  const height = e.feed?.sps?.height ?? e.probe?.height ?? e.hint?.height;
  return {
    name: e.name,
    ...(codec !== undefined ? { codec } : {}),
    ...(width !== undefined && height !== undefined ? { width, height } : {}),
    live: e.live,
  };
}

/** "sub 640x360 H.264" for log lines. */
export function describeCandidate(c: StreamCandidate): string {
  const size = c.width !== undefined && c.height !== undefined ? ` ${c.width}x${c.height}` : '';
  const codec = c.codec === 'h264' ? ' H.264' : c.codec === 'h265' ? ' H.265' : c.codec ? ` ${c.codec}` : '';
  return `${c.name}${size}${codec}`;
}
