// The app's settings, fixed at build time from Vite env variables (see web/.env.example),
// and the session mode, which the page's URL (`?mode=cookie`) may override (not in a
// tenant build: cookie sessions exist for project-level users only).

/**
 * How the app proves who it is to the API:
 * - `bearer`: `Authorization: Bearer <ID token>` on every call;
 * - `cookie`: once after sign-in, `POST /session` trades the fresh ID token for an
 *   HttpOnly `__session` cookie, which the browser then sends (`credentials: "include"`).
 */
export type SessionMode = 'bearer' | 'cookie';
export const SESSION_MODES: readonly SessionMode[] = ['bearer', 'cookie'];

export function isSessionMode(value: unknown): value is SessionMode {
  return typeof value === 'string' && (SESSION_MODES as readonly string[]).includes(value);
}

/**
 * Firebase App Check for the web app (attests that API calls come from this app):
 * - `recaptcha-enterprise`: production; needs the reCAPTCHA Enterprise site key and the
 *   Firebase web app's id;
 * - `custom`: tests and local runs; tokens come from `tokenUrl`, which answers a POST with
 *   `{"token", "expireTimeMillis"}` (a token minter the test harness serves, say).
 */
export type AppCheckConfig =
  | { provider: 'recaptcha-enterprise'; siteKey: string; debugToken: string | null }
  | { provider: 'custom'; tokenUrl: string };
export const APP_CHECK_PROVIDERS = ['recaptcha-enterprise', 'custom'] as const;

export interface AppConfig {
  projectId: string;
  apiKey: string;
  authDomain: string | undefined;
  /** `host:port` of the Auth emulator, or null for a real Firebase project. */
  authEmulator: string | null;
  /** Base URL of the backend without a trailing slash; '' means this page's origin. */
  apiBase: string;
  /** The build's default session mode (`VITE_SESSION_MODE`, default bearer). */
  sessionMode: SessionMode;
  /** The Firebase web app's id (`VITE_FIREBASE_APP_ID`); App Check with reCAPTCHA needs it. */
  appId: string | undefined;
  /** App Check, or null when this build does not use it (`VITE_APP_CHECK_PROVIDER` empty). */
  appCheck: AppCheckConfig | null;
  /**
   * The Identity Platform tenant users sign in to (`VITE_TENANT_ID`), or null for the
   * project-level users. A tenant build always uses bearer mode.
   */
  tenantId: string | null;
}

/**
 * An Identity Platform tenant ID as the backend accepts one (core/fields.py TENANT_ID):
 * letters, digits and '-', not starting with '-', at most 64 characters.
 */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

/** Why a tenant build cannot use cookie mode, for build problems and page messages. */
export const TENANT_COOKIE_UNSUPPORTED =
  'Firebase session cookies exist for project-level users only, so tenant accounts use bearer mode';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

export function loadConfig(env: ImportMetaEnv = import.meta.env): AppConfig {
  const read = (name: string): string => String(env[name] ?? '').trim();
  const projectId = read('VITE_FIREBASE_PROJECT_ID');
  const authEmulator = read('VITE_AUTH_EMULATOR') || null;
  // The emulator accepts any API key; a real project needs its own.
  const apiKey = read('VITE_FIREBASE_API_KEY') || (authEmulator ? 'emulator-api-key' : '');
  const apiBase = read('VITE_API_BASE').replace(/\/+$/, '');
  const sessionMode = read('VITE_SESSION_MODE').toLowerCase() || 'bearer';
  const problems: string[] = [];
  if (!projectId) problems.push('VITE_FIREBASE_PROJECT_ID is not set');
  if (!apiKey) problems.push('VITE_FIREBASE_API_KEY is not set (a real Firebase project needs its web API key)');
  if (projectId.startsWith('demo-') && !authEmulator) {
    problems.push(`"${projectId}" is a demo project, which exists only on the emulators: set VITE_AUTH_EMULATOR`);
  }
  if (authEmulator && !/^[A-Za-z0-9.[\]:-]+:\d+$/.test(authEmulator)) {
    problems.push(`VITE_AUTH_EMULATOR must be host:port, got "${authEmulator}"`);
  }
  if (apiBase && !/^https?:\/\/[^/]+(\/.*)?$/.test(apiBase)) {
    problems.push(`VITE_API_BASE must be an http(s) URL, got "${apiBase}"`);
  }
  if (!isSessionMode(sessionMode)) {
    problems.push(`VITE_SESSION_MODE must be bearer or cookie, got "${sessionMode}"`);
  }
  const tenantId = read('VITE_TENANT_ID') || null;
  if (tenantId !== null && !TENANT_ID_PATTERN.test(tenantId)) {
    problems.push(
      `VITE_TENANT_ID must be an Identity Platform tenant ID (letters, digits and '-', not starting with '-', ` +
        `at most 64 characters), got "${tenantId}"`,
    );
  }
  if (tenantId !== null && sessionMode === 'cookie') {
    problems.push(`VITE_SESSION_MODE=cookie cannot be used with VITE_TENANT_ID: ${TENANT_COOKIE_UNSUPPORTED} (leave VITE_SESSION_MODE empty or bearer)`);
  }
  const appId = read('VITE_FIREBASE_APP_ID') || undefined;
  const appCheck = appCheckConfig(read, appId, problems);
  if (problems.length) throw new ConfigError(problems);
  return {
    projectId,
    apiKey,
    authDomain: read('VITE_FIREBASE_AUTH_DOMAIN') || undefined,
    authEmulator,
    apiBase,
    sessionMode: sessionMode as SessionMode,
    appId,
    appCheck,
    tenantId,
  };
}

function appCheckConfig(read: (name: string) => string, appId: string | undefined, problems: string[]): AppCheckConfig | null {
  const provider = read('VITE_APP_CHECK_PROVIDER').toLowerCase();
  if (!provider) return null;
  if (provider === 'recaptcha-enterprise') {
    const siteKey = read('VITE_APP_CHECK_SITE_KEY');
    if (!siteKey) problems.push('VITE_APP_CHECK_SITE_KEY is not set (the reCAPTCHA Enterprise site key App Check uses)');
    if (!appId) problems.push('VITE_FIREBASE_APP_ID is not set (App Check with reCAPTCHA Enterprise needs the web app id)');
    return { provider, siteKey, debugToken: read('VITE_APP_CHECK_DEBUG_TOKEN') || null };
  }
  if (provider === 'custom') {
    const tokenUrl = read('VITE_APP_CHECK_TOKEN_URL');
    if (!/^https?:\/\/[^/]+(\/.*)?$/.test(tokenUrl)) {
      problems.push(`VITE_APP_CHECK_TOKEN_URL must be an http(s) URL for the custom App Check provider, got "${tokenUrl}"`);
    }
    return { provider, tokenUrl };
  }
  problems.push(`VITE_APP_CHECK_PROVIDER must be empty, ${APP_CHECK_PROVIDERS.join(' or ')}, got "${provider}"`);
  return null;
}

/**
 * The mode this page starts in: `?mode=bearer|cookie` in the URL, else the build's
 * default. A tenant build stays in bearer mode; `refused` then says that the URL asked
 * for cookie mode in vain.
 */
export function initialSessionMode(config: AppConfig, search: string = location.search): { mode: SessionMode; refused: boolean } {
  const asked = new URLSearchParams(search).get('mode');
  if (!isSessionMode(asked)) return { mode: config.sessionMode, refused: false };
  if (!sessionModeAllowed(config, asked)) return { mode: 'bearer', refused: true };
  return { mode: asked, refused: false };
}

/** Whether this build may use `mode`: a tenant build only bearer. */
export function sessionModeAllowed(config: AppConfig, mode: SessionMode): boolean {
  return mode === 'bearer' || config.tenantId === null;
}

/** Puts the mode in the URL (`?mode=`), so that a reload keeps it; nothing else is stored. */
export function rememberSessionMode(mode: SessionMode): void {
  const url = new URL(location.href);
  url.searchParams.set('mode', mode);
  history.replaceState(history.state, '', url);
}

/**
 * Whether a cookie set by the API can come back with the page's requests: SameSite=Strict
 * needs the page and the API on the same site. A heuristic (no public-suffix list): the
 * same host, or the same last two labels of a domain name.
 */
export function probablySameSite(apiBase: string, page: string = location.origin): boolean {
  if (!apiBase) return true;
  const site = (origin: string): string => {
    const url = new URL(origin);
    const host = url.hostname;
    const named = /[a-z]/i.test(host) && !host.includes(':') && host.includes('.');
    return `${url.protocol}//${named ? host.split('.').slice(-2).join('.') : host}`;
  };
  return site(apiBase) === site(page);
}
