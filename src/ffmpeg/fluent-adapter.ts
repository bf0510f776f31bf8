/**
 * The only file that touches fluent-ffmpeg (unmaintained upstream): it earns its place by parsing
 * FFmpeg's encoder listing. Swapping it out means rewriting this file alone.
 */
import ffmpeg from 'fluent-ffmpeg';

/** Names of every encoder the given FFmpeg binary offers. */
export function listEncoders(ffmpegPath: string, timeoutMs = 10_000): Promise<Set<string>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`listing encoders took longer than ${timeoutMs} ms`)), timeoutMs);
    const command = ffmpeg().setFfmpegPath(ffmpegPath);
    command.getAvailableEncoders((error: Error | null, encoders: ffmpeg.Encoders) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(new Set(Object.keys(encoders ?? {})));
    });
  });
}
