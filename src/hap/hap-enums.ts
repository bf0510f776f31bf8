/**
 * HAP-NodeJS's const enums, read from `api.hap` at runtime: TypeScript forbids touching ambient const
 * enums under verbatimModuleSyntax, and the runtime values are what HAP-NodeJS actually compares.
 */
import type { API, SRTPCryptoSuites } from 'homebridge';

export interface HapEnums {
  H264Profile: { BASELINE: number; MAIN: number; HIGH: number };
  H264Level: { LEVEL3_1: number; LEVEL3_2: number; LEVEL4_0: number };
  SRTPCryptoSuites: { AES_CM_128_HMAC_SHA1_80: SRTPCryptoSuites };
  AudioStreamingCodecType: { OPUS: string; AAC_ELD: string };
  AudioStreamingSamplerate: { KHZ_16: number; KHZ_24: number };
  StreamRequestTypes: { START: string; RECONFIGURE: string; STOP: string };
}

export function hapEnums(hap: API['hap']): HapEnums {
  return hap;
}
