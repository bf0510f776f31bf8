/** Which FFmpeg binary to run: configured path → ffmpeg-for-homebridge → `ffmpeg` on PATH. */
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

export interface BinaryCandidates {
  configured?: string;
  /** What ffmpeg-for-homebridge exports: undefined when its download failed. */
  bundled?: string;
  /** PATH entries to search for `ffmpeg`. */
  pathDirs: readonly string[];
  isExecutable: (path: string) => boolean;
}

export type BinaryChoice =
  | { ok: true; path: string; origin: 'configured' | 'ffmpeg-for-homebridge' | 'PATH' }
  | { ok: false; message: string };

/** Pure decision over the candidates; the caller supplies the file-system check. */
export function chooseFfmpeg(c: BinaryCandidates): BinaryChoice {
  if (c.configured) {
    return c.isExecutable(c.configured)
      ? { ok: true, path: c.configured, origin: 'configured' }
      : { ok: false, message: `ffmpegPath "${c.configured}" is not an executable file` };
  }
  if (c.bundled && c.isExecutable(c.bundled)) return { ok: true, path: c.bundled, origin: 'ffmpeg-for-homebridge' };
  for (const dir of c.pathDirs) {
    if (!dir) continue;
    const candidate = join(dir, 'ffmpeg');
    if (c.isExecutable(candidate)) return { ok: true, path: candidate, origin: 'PATH' };
  }
  return { ok: false, message: 'no FFmpeg found: set ffmpegPath, or install ffmpeg (e.g. `apt-get install ffmpeg`)' };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function bundledFfmpeg(): string | undefined {
  try {
    const required: unknown = createRequire(import.meta.url)('ffmpeg-for-homebridge');
    return typeof required === 'string' ? required : undefined;
  } catch {
    return undefined;
  }
}

export function resolveFfmpeg(configured: string | undefined): BinaryChoice {
  return chooseFfmpeg({
    configured,
    bundled: bundledFfmpeg(),
    pathDirs: (process.env.PATH ?? '').split(delimiter),
    isExecutable,
  });
}
