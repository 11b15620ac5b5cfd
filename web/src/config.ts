// The app's settings, fixed at build time from Vite env variables (see web/.env.example).

export interface AppConfig {
  projectId: string;
  apiKey: string;
  authDomain: string | undefined;
  /** `host:port` of the Auth emulator, or null for a real Firebase project. */
  authEmulator: string | null;
  /** Base URL of the backend without a trailing slash; '' means this page's origin. */
  apiBase: string;
}

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
  if (problems.length) throw new ConfigError(problems);
  return {
    projectId,
    apiKey,
    authDomain: read('VITE_FIREBASE_AUTH_DOMAIN') || undefined,
    authEmulator,
    apiBase,
  };
}
