/**
 * A camera's HomeKit Secure Video state as health reports it: pure transitions with an injected
 * clock, so "clips today" rolls over at local midnight without a timer.
 */

export interface RecordingState {
  /** The hub selected a configuration and set recording Active: motion starts a clip. */
  armed: boolean;
  recording: boolean;
  /** Why the last clip ended, e.g. "hub-closed", "max-length", "ffmpeg-failed"; null before the first. */
  lastCloseReason: string | null;
  clipsToday: number;
  /** 'copy' or 'transcode' for the running or last clip. */
  mode: 'copy' | 'transcode' | null;
  /** Local date (YYYY-MM-DD) clipsToday counts for. */
  day: string;
}

export type RecordingEvent =
  | { type: 'armed'; armed: boolean }
  | { type: 'started'; mode: 'copy' | 'transcode' }
  | { type: 'ended'; reason: string };

export function localDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function initialRecordingState(nowMs: number): RecordingState {
  return { armed: false, recording: false, lastCloseReason: null, clipsToday: 0, mode: null, day: localDay(nowMs) };
}

export function reduceRecordingState(state: RecordingState, event: RecordingEvent, nowMs: number): RecordingState {
  const day = localDay(nowMs);
  const base = day === state.day ? state : { ...state, day, clipsToday: 0 };
  switch (event.type) {
  case 'armed':
    return { ...base, armed: event.armed };
  case 'started':
    return { ...base, recording: true, mode: event.mode, clipsToday: base.clipsToday + 1 };
  case 'ended':
    return { ...base, recording: false, lastCloseReason: event.reason };
  }
}
