/** Whether a viewer gets audio, and if not, the reason a person can act on. Pure. */
import type { AudioConfig } from '../config/config-types.js';
import type { AudioRequest } from './hap-request-types.js';

export function chooseAudio(
  config: AudioConfig,
  requested: AudioRequest | undefined,
  encoders: ReadonlySet<string>,
  feedHasAudio: boolean,
): AudioRequest | { skip: string } | undefined {
  if (!config.enabled) return undefined;
  if (!requested) return { skip: 'the viewer asked for no audio' };
  if (config.codec !== 'auto' && config.codec !== requested.codec) {
    return { skip: `the viewer asked for ${requested.codec} but audio.codec is ${config.codec}` };
  }
  if (requested.codec === 'opus' && !encoders.has('libopus')) return { skip: 'this FFmpeg has no libopus encoder' };
  if (requested.codec === 'aac-eld' && !encoders.has('libfdk_aac')) return { skip: 'AAC-ELD needs an FFmpeg with libfdk_aac' };
  if (!feedHasAudio) return { skip: 'the camera stream has no audio track' };
  return requested;
}
