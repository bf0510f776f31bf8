/**
 * The optional per-camera user name and password fields, folded into the RTSP URL once at config
 * resolution, so the password need not sit in clear text in the URL field and the rest of the
 * plugin keeps seeing one URL (which every log line and reply already redacts). Pure.
 */

export type CredentialsOutcome =
  | { kind: 'none'; url: string }
  | { kind: 'applied'; url: string }
  /** The URL carries its own userinfo: it wins, the fields are ignored (credentials in the URL keep working). */
  | { kind: 'ignored'; url: string };

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;

export function withCredentials(url: string, username: string | undefined, password: string | undefined): CredentialsOutcome {
  const user = username ?? '';
  const pass = password ?? '';
  if (!user && !pass) return { kind: 'none', url };
  const parts = AUTHORITY.exec(url);
  if (!parts) return { kind: 'none', url };
  const [, scheme = '', authority = '', rest = ''] = parts;
  if (authority.includes('@')) return { kind: 'ignored', url };
  // Percent-encoded: ':', '@', '/' or '%' in a password must not change where the host starts.
  const userinfo = `${encodeURIComponent(user)}${pass ? `:${encodeURIComponent(pass)}` : ''}`;
  return { kind: 'applied', url: `${scheme}${userinfo}@${authority}${rest}` };
}
