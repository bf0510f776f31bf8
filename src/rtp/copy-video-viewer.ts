/**
 * A copy viewer's video without a process: the camera's copy fanout (parsed and packetized once per
 * camera) hands access units to this viewer's RTP sender. It also owns the viewer's side of a camera drop: when the feed fails it keeps holding
 * the feed (so the source restarts) and the session (so HomeKit keeps its picture), and re-attaches
 * at the first keyframe of the restarted feed with the same SSRC, key, sequence and a continuous
 * timeline. Only a feed that stays gone past `dropGraceMs` ends the viewer.
 */
import type { Log } from '../logging.js';
import { fireAndForget } from '../lifecycle/fire-and-forget.js';
import type { SharedSource } from '../source/shared-source.js';
import { DROP_GRACE_MS, waitForFeedBack } from '../hap/feed-drop.js';
import { subscribeCopyFeed, type FanoutSubscription, type FanoutViewer } from './copy-feed-fanout.js';
import type { VideoRtpSender } from './video-rtp-sender.js';


export interface CopyVideoViewerInit {
  id: string;
  source: SharedSource;
  sender: VideoRtpSender;
  log: Log;
  signal: AbortSignal;
  dropGraceMs?: number;
  /** The feed carries something other than H.264: the session must use another path. */
  onNotH264: () => void;
  /** The feed stayed gone past the grace period. */
  onLost: (reason: string) => void;
  /** The restarted feed's first keyframe is being sent. */
  onRecovered?: () => void;
}

export class CopyVideoViewer {
  private subscription: FanoutSubscription | undefined;
  /** Feed failures this viewer rode through. */
  recoveries = 0;

  constructor(private readonly init: CopyVideoViewerInit) {}

  /** Attach to the feed now (the caller waited for its first keyframe, or the feed is live). */
  start(): void {
    this.attach();
  }

  stop(): void {
    this.subscription?.release();
    this.subscription = undefined;
    this.init.sender.close();
  }

  private attach(): void {
    const { source, sender } = this.init;
    const previous = this.subscription;
    const viewer: FanoutViewer = {
      maxPayload: sender.payloadBudget,
      startBurst: (burst) => sender.startBurst(burst),
      send: (unit, payloads) => sender.send(unit, payloads),
      notH264: () => this.init.onNotH264(),
      lost: (why) => {
        if (this.subscription === subscription) this.onFeedLost(why);
      },
    };
    const subscription = subscribeCopyFeed(source, this.init.id, viewer);
    this.subscription = subscription;
    // Released only now: the old fanout kept the feed held (and restarting) while it was down.
    previous?.release();
  }

  private onFeedLost(why: string): void {
    if (this.init.signal.aborted) return;
    this.init.log.info(`${this.init.id}: camera feed lost (${why}); holding the session for up to ${Math.round((this.init.dropGraceMs ?? DROP_GRACE_MS) / 1000)} s`);
    this.init.sender.restart();
    // Deferred: the source is inside its exit handling and schedules its own restart first.
    setImmediate(() => fireAndForget(this.init.log, `${this.init.id}: feed recovery`, this.recover(why)));
  }

  private async recover(why: string): Promise<void> {
    const outcome = await waitForFeedBack(this.init.source, this.init.dropGraceMs ?? DROP_GRACE_MS, this.init.signal, why);
    if (this.init.signal.aborted) return;
    if (!outcome.back) {
      this.init.onLost(outcome.reason);
      return;
    }
    this.recoveries++;
    this.attach();
    this.init.log.info(`${this.init.id}: camera feed back; video resumes at its keyframe`);
    this.init.onRecovered?.();
  }
}
