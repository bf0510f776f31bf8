/**
 * RFC 6184 packetization-mode 1 for one access unit: NALs that fit go as single-NAL packets, larger
 * ones as FU-A fragments; SPS+PPS travel as one STAP-A right before every IDR (HomeKit's decoder
 * cannot start from an IDR whose parameter sets it has not just seen, and refuses them as separate
 * packets). The marker bit is set on the last packet of the access unit. Pure: no state but the
 * parameter sets remembered for feeds that send them only once.
 */

export const NAL_TYPE = { IDR: 5, SEI: 6, SPS: 7, PPS: 8, AUD: 9, FILLER: 12, STAP_A: 24, FU_A: 28 } as const;

export interface RtpPayload {
  payload: Buffer;
  marker: boolean;
}

/** Splits an Annex-B byte stream (00 00 01 / 00 00 00 01 start codes) into NAL units. */
export function splitAnnexB(data: Buffer): Buffer[] {
  const nals: Buffer[] = [];
  let start = -1;
  let i = 0;
  const n = data.length;
  while (i + 2 < n) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) nals.push(trimZeros(data.subarray(start, i)));
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start >= 0 && start < n) nals.push(data.subarray(start));
  return nals.filter((nal) => nal.length > 0);
}

/** A 4-byte start code leaves a zero at the end of the previous NAL (trailing_zero_8bits). */
function trimZeros(nal: Buffer): Buffer {
  let end = nal.length;
  while (end > 0 && nal[end - 1] === 0) end--;
  return nal.subarray(0, end);
}

export function nalType(nal: Buffer): number {
  return (nal[0] ?? 0) & 0x1f;
}

export interface ParameterSets {
  sps?: Buffer;
  pps?: Buffer;
}

/**
 * Payloads for one access unit. `maxPayload` is the largest RTP payload the viewer's MTU allows.
 * `params` is updated with the parameter sets seen, and supplies them to an IDR that came without.
 */
export function packetizeAccessUnit(nals: readonly Buffer[], maxPayload: number, params: ParameterSets): RtpPayload[] {
  if (maxPayload < 16) throw new Error(`RTP payload budget ${maxPayload} is too small`);
  const body: Buffer[] = [];
  let hasIdr = false;
  for (const nal of nals) {
    const type = nalType(nal);
    if (type === NAL_TYPE.SPS) params.sps = Buffer.from(nal);
    else if (type === NAL_TYPE.PPS) params.pps = Buffer.from(nal);
    // Access unit delimiters and filler carry nothing a decoder needs over RTP.
    else if (type !== NAL_TYPE.AUD && type !== NAL_TYPE.FILLER) {
      if (type === NAL_TYPE.IDR) hasIdr = true;
      body.push(nal);
    }
  }
  const payloads: Buffer[] = [];
  if (hasIdr && params.sps && params.pps) payloads.push(...parameterSetPayloads(params.sps, params.pps, maxPayload));
  for (const nal of body) payloads.push(...nalPayloads(nal, maxPayload));
  return payloads.map((payload, i) => ({ payload, marker: i === payloads.length - 1 }));
}

function parameterSetPayloads(sps: Buffer, pps: Buffer, maxPayload: number): Buffer[] {
  const stapBytes = 1 + 2 + sps.length + 2 + pps.length;
  if (stapBytes > maxPayload) return [...nalPayloads(sps, maxPayload), ...nalPayloads(pps, maxPayload)];
  const stap = Buffer.allocUnsafe(stapBytes);
  // F=0, NRI = the highest of the two (both are 3 from every encoder we have seen), type 24.
  stap[0] = (Math.max((sps[0] ?? 0) & 0x60, (pps[0] ?? 0) & 0x60)) | NAL_TYPE.STAP_A;
  stap.writeUInt16BE(sps.length, 1);
  sps.copy(stap, 3);
  stap.writeUInt16BE(pps.length, 3 + sps.length);
  pps.copy(stap, 5 + sps.length);
  return [stap];
}

function nalPayloads(nal: Buffer, maxPayload: number): Buffer[] {
  if (nal.length <= maxPayload) return [nal];
  const header = nal[0] ?? 0;
  const indicator = (header & 0xe0) | NAL_TYPE.FU_A;
  const type = header & 0x1f;
  const chunk = maxPayload - 2;
  const out: Buffer[] = [];
  for (let offset = 1; offset < nal.length; offset += chunk) {
    const end = Math.min(nal.length, offset + chunk);
    const fu = Buffer.allocUnsafe(2 + end - offset);
    fu[0] = indicator;
    fu[1] = (offset === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
    nal.copy(fu, 2, offset, end);
    out.push(fu);
  }
  return out;
}
