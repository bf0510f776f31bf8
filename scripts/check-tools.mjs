#!/usr/bin/env node
// Verifies the external tools the integration tests drive for real.
// A missing tool fails the run (exit 1); tests never skip for it.
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import process from 'node:process';

function resolve(name, extraDirs = []) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function run(file, args) {
  // Bounded: a wedged tool must not hang the test run.
  return execFileSync(file, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

const sbin = ['/usr/sbin', '/usr/local/sbin', '/sbin'];
const checks = [
  {
    name: 'ffmpeg',
    apt: 'ffmpeg',
    check: () => {
      const bin = resolve('ffmpeg');
      if (!bin) throw new Error('not on PATH');
      return `${bin} (${run(bin, ['-hide_banner', '-version']).split(' Copyright')[0]})`;
    },
  },
  {
    name: 'ffprobe',
    apt: 'ffmpeg',
    check: () => {
      const bin = resolve('ffprobe');
      if (!bin) throw new Error('not on PATH');
      return `${bin} (${run(bin, ['-hide_banner', '-version']).split(' Copyright')[0]})`;
    },
  },
  {
    name: 'mosquitto',
    apt: 'mosquitto',
    check: () => {
      const bin = resolve('mosquitto', sbin);
      if (!bin) throw new Error('not on PATH or in /usr/sbin');
      // `mosquitto -h` prints the version and exits 3; read it either way.
      let out;
      try {
        out = run(bin, ['-h']);
      } catch (err) {
        out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
        if (!/mosquitto version/i.test(out)) throw err;
      }
      const version = /mosquitto version \S+/i.exec(out)?.[0] ?? 'version unknown';
      return `${bin} (${version})`;
    },
  },
  {
    name: 'mosquitto_passwd',
    apt: 'mosquitto',
    check: () => {
      const bin = resolve('mosquitto_passwd', sbin);
      if (!bin) throw new Error('not on PATH or in /usr/sbin');
      return bin;
    },
  },
  {
    name: 'GStreamer RTSP server (python3-gi)',
    apt: 'python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad',
    check: () => {
      const python = '/usr/bin/python3';
      const script = [
        'import gi',
        "gi.require_version('Gst', '1.0')",
        "gi.require_version('GstRtspServer', '1.0')",
        'from gi.repository import Gst, GstRtspServer',
        'Gst.init(None)',
        // Elements the camera fixture needs.
        "missing = [e for e in ('videotestsrc', 'videoconvert', 'x264enc', 'h264parse', 'appsink', 'appsrc',",
        "  'rtph264pay', 'audiotestsrc', 'alawenc', 'rtppcmapay',",
        // Codec-variant cameras: H.265, AAC, G.711 mu-law.
        "  'x265enc', 'h265parse', 'rtph265pay', 'voaacenc', 'aacparse', 'rtpmp4gpay', 'mulawenc', 'rtppcmupay')",
        "  if Gst.ElementFactory.find(e) is None]",
        "print('missing elements: ' + ', '.join(missing) if missing else Gst.version_string())",
        'raise SystemExit(1 if missing else 0)',
      ].join('\n');
      try {
        return `${python} (${run(python, ['-c', script]).trim()})`;
      } catch (err) {
        const detail = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim().split('\n').slice(-1)[0] || err.message;
        throw new Error(detail, { cause: err });
      }
    },
  },
  {
    name: 'chromium (settings page test)',
    apt: 'chromium',
    check: () => {
      const bin = '/usr/bin/chromium';
      accessSync(bin, constants.X_OK);
      return `${bin} (${run(bin, ['--version']).trim()})`;
    },
  },
];

let failed = 0;
for (const { name, apt, check } of checks) {
  try {
    console.log(`ok      ${name}: ${check()}`);
  } catch (err) {
    failed++;
    const why = err instanceof Error ? err.message : String(err);
    console.error(`MISSING ${name}: ${why}\n        install with: apt-get install ${apt}`);
  }
}
if (failed > 0) {
  console.error(`check-tools: ${failed} required tool(s) missing; the integration tests cannot run.`);
  process.exit(1);
}
