/** Recent JPEGs: reused for HomeKit's repeated polls, and the fallback when the camera is down. */

export interface CachedImage {
  jpeg: Buffer;
  width: number;
  height: number;
  at: number;
}

export class SnapshotCache {
  private readonly bySize = new Map<string, CachedImage>();
  private latest: CachedImage | undefined;

  put(image: CachedImage): void {
    this.bySize.set(`${image.width}x${image.height}`, image);
    // Few distinct sizes are ever asked for; keep the map from growing on hostile sizes.
    if (this.bySize.size > 8) {
      const oldest = this.bySize.keys().next().value;
      if (oldest !== undefined) this.bySize.delete(oldest);
    }
    this.latest = image;
  }

  fresh(width: number, height: number, now: number, maxAgeMs: number): CachedImage | undefined {
    const image = this.bySize.get(`${width}x${height}`);
    return image && now - image.at <= maxAgeMs ? image : undefined;
  }

  /** The last good picture of any size, for when the camera cannot give a new one. */
  lastGood(): CachedImage | undefined {
    return this.latest;
  }
}
