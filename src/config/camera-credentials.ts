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

/**
 * A substream URL without userinfo gets the main URL's, when the main URL carries the login itself
 * (no user name/password fields) and both point at the same host: the camera has one account, and a
 * substream refused for want of it would count rejections against the login gate the main stream
 * shares. Another host never gets the main stream's password. Pure.
 */
export function withLoginOf(url: string, mainUrl: string): string {
  const sub = AUTHORITY.exec(url);
  const main = AUTHORITY.exec(mainUrl);
  if (!sub || !main) return url;
  const [, scheme = '', authority = '', rest = ''] = sub;
  const mainAuthority = main[2] ?? '';
  if (authority.includes('@')) return url;
  const at = mainAuthority.lastIndexOf('@');
  if (at <= 0) return url;
  if (hostOf(mainAuthority.slice(at + 1)) !== hostOf(authority)) return url;
  return `${scheme}${mainAuthority.slice(0, at)}@${authority}${rest}`;
}

/** The host of an authority without userinfo, lower case, without its port. */
function hostOf(hostPort: string): string {
  const bracketed = /^\[[^\]]*\]/.exec(hostPort);
  return (bracketed ? bracketed[0] : hostPort.replace(/:\d*$/, '')).toLowerCase();
}
