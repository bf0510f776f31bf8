/**
 * Reading the fragmented MP4 a recording delivers, for tests: top-level boxes, and whether a
 * fragment's first video sample is an IDR picture (read from the mdat bytes its trun points at).
 */

export interface Mp4Box {
  type: string;
  /** Offset of the box header within the buffer walked. */
  start: number;
  size: number;
  /** The payload (after the header). */
  body: Buffer;
}

export function boxes(buf: Buffer, from = 0, to = buf.length): Mp4Box[] {
  const out: Mp4Box[] = [];
  let at = from;
  while (at + 8 <= to) {
    let size = buf.readUInt32BE(at);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    }
    if (size < header || at + size > to) throw new Error(`bad box at ${at} (size ${size})`);
    out.push({ type: buf.toString('latin1', at + 4, at + 8), start: at, size, body: buf.subarray(at + header, at + size) });
    at += size;
  }
  return out;
}

function child(box: Mp4Box, type: string): Mp4Box | undefined {
  return boxes(box.body).find((b) => b.type === type);
}

/** The track id of the moov's video track (handler 'vide'). */
export function videoTrackId(init: Buffer): number {
  const moov = boxes(init).find((b) => b.type === 'moov');
  if (!moov) throw new Error('init segment has no moov');
  for (const trak of boxes(moov.body).filter((b) => b.type === 'trak')) {
    const tkhd = child(trak, 'tkhd');
    const hdlr = child(trak, 'mdia') && boxes(child(trak, 'mdia')?.body ?? Buffer.alloc(0)).find((b) => b.type === 'hdlr');
    if (!tkhd || !hdlr) continue;
    if (hdlr.body.toString('latin1', 8, 12) !== 'vide') continue;
    return tkhd.body.readUInt32BE(tkhd.body[0] === 1 ? 20 : 12);
  }
  throw new Error('init segment has no video track');
}

/** The NAL unit types at the start of the fragment's first video sample (AVC length-prefixed). */
export function firstVideoNalTypes(fragment: Buffer, trackId: number): number[] {
  const top = boxes(fragment);
  const moof = top.find((b) => b.type === 'moof');
  if (!moof) throw new Error('fragment has no moof');
  for (const traf of boxes(moof.body).filter((b) => b.type === 'traf')) {
    const tfhd = child(traf, 'tfhd');
    const trun = child(traf, 'trun');
    if (!tfhd || !trun || tfhd.body.readUInt32BE(4) !== trackId) continue;
    const flags = trun.body.readUInt32BE(0) & 0xffffff;
    if ((flags & 0x1) === 0) throw new Error('trun without data offset');
    // default_base_moof: the data offset counts from the start of the moof.
    const sampleAt = moof.start + trun.body.readInt32BE(8);
    const types: number[] = [];
    let at = sampleAt;
    for (let i = 0; i < 8 && at + 5 <= fragment.length; i++) {
      const length = fragment.readUInt32BE(at);
      const type = (fragment[at + 4] ?? 0) & 0x1f;
      types.push(type);
      if (type === 5 || type === 1) break;
      at += 4 + length;
    }
    return types;
  }
  throw new Error(`fragment has no traf for track ${trackId}`);
}
