// Firebase App Check: attests to the backend that API calls come from this app. When the
// build configures it (config.ts, AppCheckConfig), every API call carries
// `X-Firebase-AppCheck`: the SDK's cached token (getToken) for ordinary calls, and a
// fresh limited-use token (getLimitedUseToken) for the operations the backend lets a
// token serve only once (replay protection).

import type { FirebaseApp } from 'firebase/app';
import {
  CustomProvider,
  getLimitedUseToken,
  getToken,
  initializeAppCheck,
  ReCaptchaEnterpriseProvider,
  type AppCheck,
  type AppCheckToken,
} from 'firebase/app-check';

import type { AppCheckConfig } from './config';

/** The header the backend reads (the name the Firebase client SDKs use). */
export const APP_CHECK_HEADER = 'X-Firebase-AppCheck';

/** Operations whose App Check token the backend spends (its APP_CHECK_SINGLE_USE). */
const SINGLE_USE: readonly [string, RegExp][] = [
  ['POST', /^\/session$/],
  ['POST', /^\/me\/revoke-sessions$/],
  ['PUT', /^\/admin\/users\/[^/]+\/roles$/],
];

export function isSingleUse(method: string, path: string): boolean {
  const bare = path.split('?', 1)[0];
  return SINGLE_USE.some(([m, pattern]) => m === method.toUpperCase() && pattern.test(bare));
}

/** Where the API gets App Check tokens from. */
export interface AppCheckTokens {
  /** A token for `method path`: limited-use (fresh) for single-use operations. */
  tokenFor(method: string, path: string): Promise<string | null>;
}

/** Starts App Check for `app`, or returns null when the build does not use it. */
export function startAppCheck(app: FirebaseApp, config: AppCheckConfig | null): AppCheckTokens | null {
  if (!config) return null;
  if (config.provider === 'recaptcha-enterprise' && config.debugToken) {
    // Local runs against a real project: the debug token registered in the console.
    (self as unknown as { FIREBASE_APPCHECK_DEBUG_TOKEN?: string }).FIREBASE_APPCHECK_DEBUG_TOKEN = config.debugToken;
  }
  const provider =
    config.provider === 'recaptcha-enterprise'
      ? new ReCaptchaEnterpriseProvider(config.siteKey)
      : new CustomProvider({ getToken: () => fetchCustomToken(config.tokenUrl) });
  const appCheck = initializeAppCheck(app, { provider, isTokenAutoRefreshEnabled: true });
  return {
    tokenFor: (method, path) => tokenOf(appCheck, isSingleUse(method, path)),
  };
}

async function tokenOf(appCheck: AppCheck, singleUse: boolean): Promise<string | null> {
  try {
    const { token } = singleUse ? await getLimitedUseToken(appCheck) : await getToken(appCheck);
    return token;
  } catch (error) {
    // Sent without a token, the call gets the backend's verdict (served in `monitor`
    // mode, `401 app_check_failed` in `enforce`), which the page then explains.
    console.warn('App Check: no token', error);
    return null;
  }
}

/** The custom provider's token: a POST to the configured minter (tests and local runs). */
async function fetchCustomToken(url: string): Promise<AppCheckToken> {
  const response = await fetch(url, { method: 'POST', cache: 'no-store', credentials: 'omit' });
  if (!response.ok) throw new Error(`the App Check token minter answered ${response.status}`);
  const body = (await response.json()) as { token?: unknown; expireTimeMillis?: unknown };
  if (typeof body.token !== 'string' || typeof body.expireTimeMillis !== 'number') {
    throw new Error('the App Check token minter answered without {token, expireTimeMillis}');
  }
  return { token: body.token, expireTimeMillis: body.expireTimeMillis };
}
