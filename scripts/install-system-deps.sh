#!/usr/bin/env bash
# Installs the system packages the demo and the tests need: FFmpeg, mosquitto and GStreamer's RTSP
# server (the synthetic camera), Chromium (the settings page test). As root it runs apt-get; otherwise it prints the exact command.
set -euo pipefail

PACKAGES=(ffmpeg mosquitto mosquitto-clients gir1.2-gst-rtsp-server-1.0 python3-gi chromium
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-tools
  gstreamer1.0-plugins-bad)  # plugins-bad: x265enc, h265parse, voaacenc (codec-variant cameras); chromium: the settings page test

have_all() {
  command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null &&
    { command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; } &&
    /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer','1.0'); from gi.repository import GstRtspServer" 2>/dev/null &&
    gst-inspect-1.0 x264enc >/dev/null 2>&1 && gst-inspect-1.0 x265enc >/dev/null 2>&1 && gst-inspect-1.0 voaacenc >/dev/null 2>&1 &&
    [ -x /usr/bin/chromium ] # the settings page end-to-end test (playwright-core drives it, no browser download)
}

if have_all; then
  echo "system packages: already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${PACKAGES[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
# mosquitto's package starts a system broker on 1883; the tests run their own on free ports.
(service mosquitto stop || systemctl stop mosquitto || true) >/dev/null 2>&1
have_all || { echo "system packages installed but a tool is still missing" >&2; exit 1; }
echo "system packages: installed"
