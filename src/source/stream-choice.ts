/**
 * Which of a camera's streams (main + substreams) serves a viewer or a snapshot. Pure; not wired
 * into the camera yet (one `source` stays the only stream until the config grows `streams`).
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
  | { kind: 'copy'; stream: string }
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
  if (copy) return { kind: 'copy', stream: copy.name };
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
