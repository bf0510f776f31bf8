/**
 * Decodes H.264 or a JPEG with the system FFmpeg into the stamp band images bench/stamp.ts reads,
 * one per picture, in decode order. Bounded by a timeout; the child is always reaped.
 */
import { spawn } from 'node:child_process';
import { BAND_FILTER, splitBands } from './stamp.js';

const FFMPEG = '/usr/bin/ffmpeg';

export interface DecodedBands {
  bands: Buffer[];
  /** FFmpeg's stderr at -loglevel error (decode errors, if any). */
  errors: string;
}

export function decodeBands(data: Buffer, kind: 'h264' | 'image', timeoutMs = 30_000): Promise<DecodedBands> {
  const input = kind === 'h264' ? ['-f', 'h264'] : ['-f', 'image2pipe'];
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', ...input, '-i', 'pipe:0',
    '-vf', BAND_FILTER, '-fps_mode', 'passthrough', '-f', 'rawvideo', 'pipe:1'];
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let errors = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      errors = (errors + chunk.toString('utf8')).slice(-4000);
    });
    child.stdin.on('error', () => undefined);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') reject(new Error(`decoding timed out after ${timeoutMs} ms`));
      else resolve({ bands: splitBands(Buffer.concat(out)), errors: code === 0 ? errors.trim() : `exit ${code}: ${errors.trim()}` });
    });
    child.stdin.end(data);
  });
}
