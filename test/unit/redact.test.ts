import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { printableName, printableText, redactSecrets, redactUrl, redactUrlsInText, secretsInUrl } from '../../src/config/redact.js';
import { pluginLog } from '../../src/platform/plugin-log.js';
import type { Logging } from 'homebridge';

/**
 * Each row: a URL, what redactUrl must print, and the secrets secretsInUrl must return. FFmpeg takes
 * the host after the *last* '@' before the path, so a raw '@' in a password (or an e-mail user) is
 * a working camera URL and must be masked whole.
 */
const URLS: Array<{ url: string; redacted: string; secrets: string[]; leak?: string[] }> = [
  { url: 'rtsp://admin:hunter2@192.168.1.10:554/stream1', redacted: 'rtsp://admin:***@192.168.1.10:554/stream1', secrets: ['hunter2'] },
  { url: 'rtsps://admin:hunter2@cam.local:322/s', redacted: 'rtsps://admin:***@cam.local:322/s', secrets: ['hunter2'] },
  { url: 'http://admin:hunter2@192.168.1.10/snap.jpg', redacted: 'http://admin:***@192.168.1.10/snap.jpg', secrets: ['hunter2'] },
  { url: 'https://admin:hunter2@cam/snap.jpg', redacted: 'https://admin:***@cam/snap.jpg', secrets: ['hunter2'] },
  { url: 'mqtt://homebridge:brokerpw@127.0.0.1:1883', redacted: 'mqtt://homebridge:***@127.0.0.1:1883', secrets: ['brokerpw'] },
  { url: 'mqtts://u:brokerpw@broker', redacted: 'mqtts://u:***@broker', secrets: ['brokerpw'] },
  { url: 'wss://u:brokerpw@broker/mqtt', redacted: 'wss://u:***@broker/mqtt', secrets: ['brokerpw'] },
  { url: 'RTSP://Admin:Hunter2@CAM/x', redacted: 'RTSP://Admin:***@CAM/x', secrets: ['Hunter2'] },
  { url: 'rtsp://admin:p@ss@192.168.1.10:554/s', redacted: 'rtsp://admin:***@192.168.1.10:554/s', secrets: ['p@ss'], leak: ['ss@'] },
  { url: 'rtsp://admin:a@b@c@192.168.1.10/s', redacted: 'rtsp://admin:***@192.168.1.10/s', secrets: ['a@b@c'] },
  { url: 'rtsp://me@example.com:hunter2@cam/s', redacted: 'rtsp://me@example.com:***@cam/s', secrets: ['hunter2'] },
  { url: 'rtsp://admin:pa:ss:word@cam:554/s', redacted: 'rtsp://admin:***@cam:554/s', secrets: ['pa:ss:word'], leak: ['ss:word'] },
  { url: 'rtsp://admin:p%40ss%3Aw@cam/s', redacted: 'rtsp://admin:***@cam/s', secrets: ['p%40ss%3Aw'] },
  { url: 'rtsp://admin:my%20pass@cam/s', redacted: 'rtsp://admin:***@cam/s', secrets: ['my%20pass'] },
  { url: 'rtsp://admin:my secret pass@cam/s', redacted: 'rtsp://admin:***@cam/s', secrets: ['my secret pass'], leak: ['secret'] },
  { url: 'rtsp://:onlypass@cam/s', redacted: 'rtsp://:***@cam/s', secrets: ['onlypass'] },
  { url: 'rtsp://admin:@cam/s', redacted: 'rtsp://admin:***@cam/s', secrets: [] },
  { url: "rtsp://admin:it's;$(id)`x`@cam/s", redacted: 'rtsp://admin:***@cam/s', secrets: ["it's;$(id)`x`"] },
  // Secret query parameters, with and without userinfo.
  { url: 'http://cam/cgi-bin/snap.cgi?user=admin&password=s3cr3t&chn=1', redacted: 'http://cam/cgi-bin/snap.cgi?user=admin&password=***&chn=1', secrets: ['s3cr3t'] },
  { url: 'http://cam/snap?pwd=a1&PASS=b2&token=c3&sig=d4#top', redacted: 'http://cam/snap?pwd=***&PASS=***&token=***&sig=***#top', secrets: ['a1', 'b2', 'c3', 'd4'] },
  { url: 'rtsp://admin:hunter2@cam/s?access_token=tk9&channel=1', redacted: 'rtsp://admin:***@cam/s?access_token=***&channel=1', secrets: ['hunter2', 'tk9'] },
  { url: 'http://cam/x?api_key=k1&apikey=k2&auth=k3&secret=k4&passwd=k5&key=k6', redacted: 'http://cam/x?api_key=***&apikey=***&auth=***&secret=***&passwd=***&key=***', secrets: ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'] },
  // Secrets in the path: UniFi Protect tokens and DVR `user=…_password=…` paths.
  { url: 'rtsps://192.168.1.1:7441/AbCdEfGh12345678?enableSrtp', redacted: 'rtsps://192.168.1.1:7441/***?enableSrtp', secrets: ['AbCdEfGh12345678'] },
  { url: 'rtsp://192.168.1.1:7447/abcdefghijklmnop', redacted: 'rtsp://192.168.1.1:7447/***', secrets: ['abcdefghijklmnop'] },
  // The test fixture's RTSPS camera: a UniFi-shaped token on an arbitrary port.
  { url: 'rtsps://127.0.0.1:43123/Xk3pQ9vT2mLw8RzA?enableSrtp', redacted: 'rtsps://127.0.0.1:43123/***?enableSrtp', secrets: ['Xk3pQ9vT2mLw8RzA'] },
  { url: 'rtsps://nvr.local:7441/Xy12AbCd', redacted: 'rtsps://nvr.local:7441/***', secrets: ['Xy12AbCd'] },
  { url: 'rtsps://[::1]:7441/AbCdEfGh12345678', redacted: 'rtsps://[::1]:7441/***', secrets: ['AbCdEfGh12345678'] },
  { url: 'rtsp://cam:554/live/Q2hhbm5lbDEyMzQ1Njc4/main', redacted: 'rtsp://cam:554/live/***/main', secrets: ['Q2hhbm5lbDEyMzQ1Njc4'] },
  { url: 'rtsp://192.168.1.10:554/user=admin_password=tlJwpbo6_channel=1_stream=0.sdp?real_stream', redacted: 'rtsp://192.168.1.10:554/user=admin_password=***_channel=1_stream=0.sdp?real_stream', secrets: ['tlJwpbo6'] },
  { url: 'rtsp://cam/user=admin_password=se_cret_channel=1', redacted: 'rtsp://cam/user=admin_password=***_channel=1', secrets: ['se_cret'] },
  { url: 'rtsp://cam/live;token=abc123;ch=2', redacted: 'rtsp://cam/live;token=***;ch=2', secrets: ['abc123'] },
  { url: 'rtsp://admin:hunter2@cam:7441/AbCdEfGh12345678', redacted: 'rtsp://admin:***@cam:7441/***', secrets: ['hunter2', 'AbCdEfGh12345678'] },
  // Path names that only look long stay readable.
  { url: 'rtsp://cam:554/h264Preview_01_main', redacted: 'rtsp://cam:554/h264Preview_01_main', secrets: [] },
  { url: 'rtsp://cam:554/cam/realmonitor?channel=1&subtype=0', redacted: 'rtsp://cam:554/cam/realmonitor?channel=1&subtype=0', secrets: [] },
  { url: 'rtsp://cam:554/Streaming/Channels/101', redacted: 'rtsp://cam:554/Streaming/Channels/101', secrets: [] },
  { url: 'rtsp://cam:554/averyveryverylongname', redacted: 'rtsp://cam:554/averyveryverylongname', secrets: [] },
  { url: 'rtsp://cam:554/user=admin_channel=1', redacted: 'rtsp://cam:554/user=admin_channel=1', secrets: [] },
  // Nothing secret: unchanged.
  { url: 'rtsp://192.168.1.10:554/stream1', redacted: 'rtsp://192.168.1.10:554/stream1', secrets: [] },
  { url: 'rtsp://admin@192.168.1.10:554/stream1', redacted: 'rtsp://admin@192.168.1.10:554/stream1', secrets: [] },
  { url: 'rtsp://cam:554/path@thing', redacted: 'rtsp://cam:554/path@thing', secrets: [] },
  { url: 'rtsp://cam/s?user=a@b&channel=1&passage=x', redacted: 'rtsp://cam/s?user=a@b&channel=1&passage=x', secrets: [] },
  { url: 'http://cam/snap?password=', redacted: 'http://cam/snap?password=***', secrets: [] },
  { url: 'not a url at all', redacted: 'not a url at all', secrets: [] },
  { url: '', redacted: '', secrets: [] },
];

describe('redactUrl', () => {
  for (const c of URLS) {
    it(JSON.stringify(c.url), () => {
      const out = redactUrl(c.url);
      assert.equal(out, c.redacted);
      for (const s of [...c.secrets, ...(c.leak ?? [])]) assert.ok(!out.includes(s), `"${s}" leaked in ${out}`);
      assert.equal(redactUrl(out), out, 'idempotent');
    });
  }

  it('never throws on odd input', () => {
    for (const s of ['://', 'rtsp://', 'rtsp://@', 'rtsp://:@', '%', 'rtsp://a:%zz@h', '?&=&=', 'a'.repeat(100_000), `rtsp://${'a:'.repeat(20_000)}`]) {
      assert.doesNotThrow(() => redactUrl(s));
    }
  });
});

describe('secretsInUrl', () => {
  for (const c of URLS) {
    it(JSON.stringify(c.url), () => assert.deepEqual(secretsInUrl(c.url), c.secrets));
  }
});

describe('redactUrlsInText (FFmpeg stderr)', () => {
  const lines: Array<[string, string]> = [
    [
      "Input #0, rtsp, from 'rtsp://admin:hunter2@192.168.1.10:554/stream1':",
      "Input #0, rtsp, from 'rtsp://admin:***@192.168.1.10:554/stream1':",
    ],
    [
      'rtsp://admin:hunter2@127.0.0.1:43577/401: Server returned 401 Unauthorized (authorization failed)',
      'rtsp://admin:***@127.0.0.1:43577/401: Server returned 401 Unauthorized (authorization failed)',
    ],
    [
      'rtsp://admin:p@ss@127.0.0.1:1/x: Connection refused',
      'rtsp://admin:***@127.0.0.1:1/x: Connection refused',
    ],
    [
      '[http @ 0x55] HTTP error 401 Unauthorized for "http://u:pw1@cam/snap.jpg?password=pw2" and <mqtt://u:pw3@broker>',
      '[http @ 0x55] HTTP error 401 Unauthorized for "http://u:***@cam/snap.jpg?password=***" and <mqtt://u:***@broker>',
    ],
    [
      'two: rtsp://a:one@h1/x rtsp://b:two@h2/y',
      'two: rtsp://a:***@h1/x rtsp://b:***@h2/y',
    ],
    [
      '[tcp @ 0x56182d00e580] Connection to tcp://127.0.0.1:1?timeout=0 failed: Connection refused',
      '[tcp @ 0x56182d00e580] Connection to tcp://127.0.0.1:1?timeout=0 failed: Connection refused',
    ],
    ['frame=  120 fps= 30 q=-1.0 size=N/A time=00:00:04.00 bitrate=N/A speed=1x', 'frame=  120 fps= 30 q=-1.0 size=N/A time=00:00:04.00 bitrate=N/A speed=1x'],
  ];
  for (const [input, want] of lines) {
    it(input.slice(0, 60), () => assert.equal(redactUrlsInText(input), want));
  }

  it('multi-line text', () => {
    const text = 'line1 rtsp://a:s1@h/x\nline2 http://h/snap?token=s2\r\nline3';
    const out = redactUrlsInText(text);
    assert.equal(out, 'line1 rtsp://a:***@h/x\nline2 http://h/snap?token=***\r\nline3');
  });
});

describe('redactSecrets', () => {
  const cases: Array<{ text: string; secrets: string[]; want: string }> = [
    { text: 'auth with hunter2 failed', secrets: ['hunter2'], want: 'auth with *** failed' },
    { text: 'p@ss and p%40ss', secrets: ['p@ss'], want: '*** and ***' },
    { text: 'p@ss and p%40ss', secrets: ['p%40ss'], want: '*** and ***' },
    { text: 'my pass / my%20pass', secrets: ['my pass'], want: '*** / ***' },
    { text: 'a:b / a%3Ab', secrets: ['a:b'], want: '*** / ***' },
    { text: 'longsecret and long', secrets: ['long', 'longsecret'], want: '*** and ***' },
    { text: 'nothing here', secrets: ['', 'absent'], want: 'nothing here' },
    { text: '100% sure', secrets: ['100%'], want: '*** sure' },
    { text: 'x hunter2 hunter2', secrets: ['hunter2', 'hunter2'], want: 'x *** ***' },
    { text: 'regex chars .*+?', secrets: ['.*+?'], want: 'regex chars ***' },
    { text: 'no secrets', secrets: [], want: 'no secrets' },
    // A 1–3 character password does not garble unrelated text; with a symbol it is still masked as a word.
    { text: 'a camera at 12 fps is on', secrets: ['a'], want: 'a camera at 12 fps is on' },
    { text: 'a camera at 12 fps is on', secrets: ['12', 'is', 'on'], want: 'a camera at 12 fps is on' },
    { text: 'pwd pw2 stopped (pw)', secrets: ['pw'], want: 'pwd pw2 stopped (pw)' },
    { text: 'password "a!" rejected, a! ok, xa!y', secrets: ['a!'], want: 'password "***" rejected, *** ok, xa!y' },
    { text: 'tried !@# twice', secrets: ['!@#'], want: 'tried *** twice' },
    { text: 'login abcd failed (abcd)', secrets: ['abcd'], want: 'login *** failed (***)' },
    // Path tokens found by secretsInUrl are masked wherever they appear.
    { text: 'DESCRIBE /AbCdEfGh12345678 → 404', secrets: ['AbCdEfGh12345678'], want: 'DESCRIBE /*** → 404' },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.text)} − ${JSON.stringify(c.secrets)}`, () => assert.equal(redactSecrets(c.text, c.secrets), c.want));
  }

  it('after redactUrlsInText, nothing of a URL password remains (the platform pipeline)', () => {
    for (const c of URLS) {
      const line = `[rtsp @ 0x1] error on '${c.url}': Connection refused (${c.url})`;
      const out = redactSecrets(redactUrlsInText(line), secretsInUrl(c.url));
      for (const s of c.secrets) assert.ok(!out.includes(s), `"${s}" leaked: ${out}`);
    }
  });
});

describe('short passwords in the platform pipeline', () => {
  it('a 2-character password is masked in its URL and leaves the rest of the line alone', () => {
    const url = 'rtsp://admin:on@192.168.1.10:554/stream1';
    const line = `camera feed is on: could not open ${url} (connection refused)`;
    const out = redactSecrets(redactUrlsInText(line), secretsInUrl(url));
    assert.equal(out, 'camera feed is on: could not open rtsp://admin:***@192.168.1.10:554/stream1 (connection refused)');
  });
});

describe('printable names (bidi and control characters)', () => {
  const names: Array<[string, string]> = [
    ['Front door', 'Front door'],
    ['Garage\u202Eroodtnorf', 'Garageroodtnorf'],
    ['\u2066Yard\u2069 \u2067cam\u2069', 'Yard cam'],
    ['\u200EPorch\u200F', 'Porch'],
    ['\u202Aa\u202Bb\u202Cc\u202Dd\u202Ee\u2068f\u061Cg', 'abcdefg'],
    ['Drive\nway', 'Drive way'],
    ['Drive\r\n\tway', 'Drive way'],
    ['\u001b[31mRed\u001b[0m', '[31mRed [0m'],
    ['C1\u0085next\u009bline', 'C1 next line'],
    ['line\u2028sep\u2029para', 'line sep para'],
    ['  padded  ', 'padded'],
    ['שער ראשי', 'שער ראשי'],
    ['Café 🎥', 'Café 🎥'],
    ['\u202E', ''],
  ];
  for (const [name, want] of names) {
    it(JSON.stringify(name), () => assert.equal(printableName(name), want));
  }

  it('printableText keeps spacing but removes bidi controls and breaks no line', () => {
    assert.equal(printableText('a\u202Eb  c\nd'), 'ab  c d');
  });

  it('the plugin logger prints a camera name without bidi controls or line breaks', () => {
    const lines: string[] = [];
    const capture = (_format: string, text: string): void => {
      lines.push(text);
    };
    const base = { info: capture, warn: capture, error: capture, debug: capture } as unknown as Logging;
    const log = pluginLog(base, 'Gate\u202E\nFAKE: admin logged in', false, (t) => t);
    log.info('stream started');
    assert.deepEqual(lines, ['Gate FAKE: admin logged in: stream started']);
    assert.ok(!/[\u202A-\u202E\u2066-\u2069\n]/.test(lines[0] ?? ''));
  });
});
