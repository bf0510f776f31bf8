/**
 * Parses FFmpeg's `-progress pipe:1` key=value blocks into stream metrics for health reporting.
 * FFmpeg ends each block with `progress=continue` (or `end`).
 */
export interface FfmpegProgress {
  frame: number;
  fps: number;
  bitrateKbps: number;
  outTimeMs: number;
  totalSizeBytes: number;
  dupFrames: number;
  dropFrames: number;
  speed: number;
  end: boolean;
}

function num(value: string | undefined): number {
  if (value === undefined) return 0;
  const parsed = Number.parseFloat(value);
  return Number.isFinite(parsed) ? parsed : 0;
}

export class ProgressParser {
  private fields = new Map<string, string>();
  private partial = '';

  /** Feed raw stdout text; returns every completed progress block. */
  push(chunk: string): FfmpegProgress[] {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = (lines.pop() ?? '').slice(-1000);
    const blocks: FfmpegProgress[] = [];
    for (const line of lines) {
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      if (key === 'progress') {
        blocks.push(toProgress(this.fields, value === 'end'));
        this.fields = new Map();
      } else if (this.fields.size < 64) {
        this.fields.set(key, value);
      }
    }
    return blocks;
  }
}

function toProgress(f: Map<string, string>, end: boolean): FfmpegProgress {
  // bitrate is printed like "1234.5kbits/s" or "N/A".
  const bitrate = f.get('bitrate');
  const outTimeUs = f.get('out_time_us') ?? f.get('out_time_ms'); // out_time_ms is in µs despite its name.
  return {
    frame: num(f.get('frame')),
    fps: num(f.get('fps')),
    bitrateKbps: bitrate && bitrate !== 'N/A' ? num(bitrate) : 0,
    outTimeMs: Math.max(0, num(outTimeUs) / 1000),
    totalSizeBytes: num(f.get('total_size')),
    dupFrames: num(f.get('dup_frames')),
    dropFrames: num(f.get('drop_frames')),
    speed: num(f.get('speed')?.replace(/x$/, '')),
    end,
  };
}
