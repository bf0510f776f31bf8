import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A self-signed certificate for 127.0.0.1, made at test time with openssl: a PEM file holding cert + key. */
export interface TlsCert {
  pemPath: string;
  remove(): void;
}

export function makeSelfSignedCert(): TlsCert {
  const dir = mkdtempSync(join(tmpdir(), 'cctv-tls-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const pemPath = join(dir, 'camera.pem');
  writeFileSync(pemPath, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { pemPath, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
