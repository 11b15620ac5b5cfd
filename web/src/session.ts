// The signed-in user: Firebase Auth (modular SDK) with in-memory persistence, the
// backend's view of them (GET /me), and keeping the ID token fresh.
//
// Two session modes (config.ts, SessionMode), chosen before signing in:
//   - bearer: every API call sends the ID token (lifecycle below);
//   - cookie: right after sign-in, the fresh ID token is traded once for the API's
//     HttpOnly `__session` cookie (POST /session); API calls then send only the cookie
//     (credentials: "include"); sign-out ends it on the server (DELETE /session, which
//     revokes the user's sessions) and then in Firebase; any 401 ends the session.
//
// Token lifecycle (bearer mode):
//   - the ID token and refresh token live only in this tab's memory (no localStorage,
//     no IndexedDB): a reload signs out;
//   - every API call asks the SDK for the token, which renews it when it expires
//     within 30 s; a timer also renews it 5 minutes before it expires;
//   - it is renewed at once (getIdToken(true)) by "Refresh session", when the page
//     regains focus, and after the admin page changes the current user's roles, so
//     that new role claims take effect without signing in again;
//   - and when a response says `X-Claims-Stale: 1` (a role granted, or the email
//     verified, since the token was minted): once per token that was marked, never
//     while such a renewal is running (its own GET /me may be marked too), so a
//     server that keeps marking cannot start a loop.
//
// A tenant build (`VITE_TENANT_ID`) sets `auth.tenantId` before anything signs in, so
// every sign-in goes to that Identity Platform tenant (a project-level account is then
// "not found"); it stays in bearer mode, since session cookies are for project-level
// users only.

import { FirebaseError, initializeApp } from 'firebase/app';
import {
  connectAuthEmulator,
  EmailAuthProvider,
  getMultiFactorResolver,
  inMemoryPersistence,
  initializeAuth,
  onAuthStateChanged,
  onIdTokenChanged,
  PhoneAuthProvider,
  PhoneMultiFactorGenerator,
  reauthenticateWithCredential,
  RecaptchaVerifier,
  signInWithEmailAndPassword,
  signOut,
  type Auth,
  type MultiFactorError,
  type User,
} from 'firebase/auth';

import { Api, APP_CHECK_CODES, ApiError, describeApiError, type Me, type TokenSource } from './api';
import { startAppCheck } from './appcheck';
import {
  initialSessionMode,
  rememberSessionMode,
  sessionModeAllowed,
  TENANT_COOKIE_UNSUPPORTED,
  type AppConfig,
  type SessionMode,
} from './config';
import { showMessage } from './flash';
import { askFor } from './prompt';

const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
const MIN_REFRESH_DELAY_MS = 10_000;
/** Focus events come in bursts; renew at most this often because of them. */
const FOCUS_REFRESH_INTERVAL_MS = 30_000;

/** Firebase Auth errors after which the refresh token is useless: sign in again. */
const SESSION_ENDING_CODES = new Set([
  'auth/user-token-expired',
  'auth/user-disabled',
  'auth/user-not-found',
  'auth/invalid-user-token',
]);

/** Said when a new cookie session's first call came without the cookie. */
const COOKIE_NOT_SENT =
  'The server set the session cookie, but the browser did not send it back. In cookie mode ' +
  'this page and the API must be on the same site (for example both on 127.0.0.1, not one on ' +
  'localhost), and the browser must accept its cookies. Sign in again, or use bearer mode.';

/** Thrown after the session ended; the message has been shown already. */
export class SessionEnded extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionEnded';
  }
}

export class Session implements TokenSource {
  readonly auth: Auth;
  readonly api: Api;
  /** False until Firebase Auth has reported its first state. */
  ready = false;
  user: User | null = null;
  /** True while a new user's session is being set up (cookie, GET /me). */
  pending = false;
  /** The backend's view of the user; null while signed out or when /me failed. */
  me: Me | null = null;
  meError: unknown = null;
  tokenExpiresAt: Date | null = null;
  /** Errors of work nobody awaits (timers, focus); set by the UI. */
  onBackgroundError: (error: unknown) => void = (error) => console.error(error);

  private readonly listeners = new Set<() => void>();
  private refreshTimer: number | undefined;
  private lastRefresh = 0;
  private currentMode: SessionMode;
  /** Cookie mode: the sign-in in progress, settled once the cookie is set (or failed). */
  private cookieSignIn: Promise<void> | null = null;
  /** Counts user changes, so that a slow one does not overwrite a newer one. */
  private generation = 0;
  /** The last ID token a stale-claims mark renewed (each is renewed at most once). */
  private staleToken: string | null = null;
  /** The renewal a stale-claims mark started, while it runs. */
  private staleRenewal: Promise<void> | null = null;
  /** Cookie mode: the stale-claims advice was shown to this user already. */
  private staleAdvised = false;

  constructor(readonly config: AppConfig) {
    const app = initializeApp({
      apiKey: config.apiKey,
      authDomain: config.authDomain,
      projectId: config.projectId,
      appId: config.appId,
    });
    this.auth = initializeAuth(app, { persistence: inMemoryPersistence });
    // Before any sign-in: the tenant whose users this build signs in (null: project-level).
    this.auth.tenantId = config.tenantId;
    if (config.authEmulator) {
      // Our own banner says "Auth emulator"; the SDK's would cover the page's bottom.
      connectAuthEmulator(this.auth, `http://${config.authEmulator}`, { disableWarnings: true });
      // The emulator sends no SMS and checks no reCAPTCHA: the SDK then needs none either.
      this.auth.settings.appVerificationDisabledForTesting = true;
    }
    const initial = initialSessionMode(config);
    this.currentMode = initial.mode;
    if (initial.refused) {
      rememberSessionMode(initial.mode); // a reload does not ask again
      showMessage('info', `Cookie mode (?mode=cookie) is not available here: ${TENANT_COOKIE_UNSUPPORTED}. Using bearer mode.`);
    }
    this.api = new Api(config.apiBase, this, startAppCheck(app, config.appCheck));
  }

  get mode(): SessionMode {
    return this.currentMode;
  }

  /** Chooses the mode for the next sign-in (kept in the URL as `?mode=`, nowhere else). */
  setMode(mode: SessionMode): void {
    if (this.auth.currentUser || this.cookieSignIn || mode === this.currentMode) return;
    if (!sessionModeAllowed(this.config, mode)) return;
    this.currentMode = mode;
    rememberSessionMode(mode);
    this.emit();
  }

  start(): void {
    onIdTokenChanged(this.auth, (user) => void this.scheduleRefresh(user));
    onAuthStateChanged(this.auth, (user) => void this.userChanged(user));
    window.addEventListener('focus', () => this.refreshOnReturn());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.refreshOnReturn();
    });
  }

  subscribe(listener: () => void): void {
    this.listeners.add(listener);
  }

  hasRole(role: string): boolean {
    return this.me?.roles.includes(role) ?? false;
  }

  async signIn(email: string, password: string): Promise<void> {
    if (this.currentMode === 'bearer') {
      await this.signInWithPassword(email, password);
      return;
    }
    if (this.cookieSignIn) return; // one at a time
    const signingIn = (async () => {
      const user = await this.signInWithPassword(email, password);
      if (!user) return;
      try {
        // The token of a sign-in that just happened: POST /session wants one under 5 minutes old.
        await this.api.startCookieSession(await user.getIdToken());
      } catch (error) {
        await signOut(this.auth); // no half-signed-in state: Firebase yes, API no
        throw error;
      }
    })();
    this.cookieSignIn = signingIn;
    try {
      await signingIn;
    } finally {
      this.cookieSignIn = null;
    }
  }

  /**
   * Email and password, then the SMS code when the user enrolled a second factor; null
   * (and a message) when they cancel the code.
   */
  private async signInWithPassword(email: string, password: string): Promise<User | null> {
    try {
      return (await signInWithEmailAndPassword(this.auth, email, password)).user;
    } catch (failure) {
      if (await this.secondFactorIfAsked(failure)) return this.auth.currentUser;
      showMessage('info', 'Not signed in: the code of your second factor was not entered.');
      return null;
    }
  }

  /** Signs out: in cookie mode the server first ends the cookie session (all of the user's sessions). */
  async signOut(): Promise<void> {
    if (this.currentMode === 'cookie' && this.auth.currentUser) {
      try {
        await this.api.endCookieSession();
      } catch (error) {
        // A 401: the cookie had already expired or been revoked, so there is nothing to end.
        if (!(error instanceof ApiError && error.status === 401 && !APP_CHECK_CODES.has(error.code))) {
          const why = error instanceof ApiError ? describeApiError(error) : String(error);
          showMessage(
            'error',
            `You are signed out of this page, but the server could not end your cookie session, which ` +
              `stays valid until it expires: sign in and out again to end it. ${why}`,
          );
        }
      }
    }
    await signOut(this.auth);
  }

  /** Signs out because the session cannot go on, and says why. */
  async end(reason: string): Promise<void> {
    showMessage('error', reason);
    if (this.auth.currentUser) await signOut(this.auth);
  }

  /** TokenSource for the API: in cookie mode no token is sent, but someone must be signed in. */
  assertSignedIn(): void {
    if (!this.auth.currentUser) throw new SessionEnded('You are signed out.');
  }

  /** TokenSource for the API: the SDK's cached token, or a new one. */
  async idToken(forceRefresh: boolean): Promise<string> {
    const user = this.auth.currentUser;
    // Signed out meanwhile (another tab of work ended the session): nothing to report.
    if (!user) throw new SessionEnded('You are signed out.');
    try {
      return await user.getIdToken(forceRefresh);
    } catch (error) {
      if (error instanceof FirebaseError && SESSION_ENDING_CODES.has(error.code)) {
        const reason =
          'Your session has ended (your roles changed, you signed out elsewhere, or the account ' +
          `was disabled). Please sign in again. [${error.code}]`;
        await this.end(reason);
        throw new SessionEnded(reason);
      }
      throw error;
    }
  }

  /**
   * TokenSource for the API, after `401 step_up_required`: the user signs in again with
   * their password and, when they enrolled one, their SMS second factor (the Firebase
   * SDK's multi-factor resolver). The new ID token carries the second factor and a new
   * `auth_time`; the API then retries. False when they cancel (nothing was sent); a
   * wrong password or code is a `StepUpFailed`. Cookie mode cannot: its cookie keeps
   * its sign-in.
   */
  async stepUp(error: ApiError): Promise<boolean> {
    const user = this.auth.currentUser;
    if (this.currentMode !== 'bearer' || !user?.email) return false;
    const password = await askFor('Confirm it is you', `${error.message} Enter your password to go on.`, `Password of ${user.email}`, 'password');
    if (password === null) return false;
    try {
      await reauthenticateWithCredential(user, EmailAuthProvider.credential(user.email, password));
    } catch (failure) {
      try {
        if (!(await this.secondFactorIfAsked(failure))) return false;
      } catch (refused) {
        throw stepUpFailed(refused, this.config);
      }
    }
    this.lastRefresh = Date.now();
    return true;
  }

  /**
   * A password sign-in (or re-authentication) that failed with
   * `auth/multi-factor-auth-required`: asks for the SMS code of the user's phone factor
   * and completes it. False when the user cancels; any other `failure` is rethrown.
   */
  private async secondFactorIfAsked(failure: unknown): Promise<boolean> {
    if (!(failure instanceof FirebaseError && failure.code === 'auth/multi-factor-auth-required')) throw failure;
    const resolver = getMultiFactorResolver(this.auth, failure as MultiFactorError);
    const hint = resolver.hints.find((candidate) => candidate.factorId === PhoneMultiFactorGenerator.FACTOR_ID);
    if (!hint) throw new SecondFactorUnsupported();
    const anchor = document.body.appendChild(document.createElement('div'));
    const verifier = new RecaptchaVerifier(this.auth, anchor, { size: 'invisible' });
    try {
      const verificationId = await new PhoneAuthProvider(this.auth).verifyPhoneNumber(
        { multiFactorHint: hint, session: resolver.session },
        verifier,
      );
      const phone = 'phoneNumber' in hint ? String(hint.phoneNumber) : 'your phone';
      const code = await askFor('Second factor', `Enter the code sent to ${phone}.`, 'Code', 'text');
      if (code === null) return false;
      const credential = PhoneAuthProvider.credential(verificationId, code.trim());
      await resolver.resolveSignIn(PhoneMultiFactorGenerator.assertion(credential));
      return true;
    } finally {
      verifier.clear();
      anchor.remove();
    }
  }

  /**
   * TokenSource for the API: a response to a request sent with `sentWith` was marked
   * `X-Claims-Stale: 1`. Bearer mode renews the token and reloads /me (the page then
   * shows the new roles), once per marked token; cookie mode cannot renew the cookie's
   * claims, so it says once how to get them.
   */
  claimsStale(sentWith: string | null): void {
    const user = this.auth.currentUser;
    if (!user) return;
    if (this.currentMode === 'cookie') {
      if (this.staleAdvised) return;
      this.staleAdvised = true;
      showMessage('info', 'Your roles or account changed since you signed in. A cookie session keeps what it started with: sign out and in again to use the change.');
      return;
    }
    if (sentWith === null || sentWith === this.staleToken || this.staleRenewal) return;
    this.staleToken = sentWith;
    this.staleRenewal = (async () => {
      // A renewal since that request (focus, "Refresh session") already did the work.
      if ((await user.getIdToken()) !== sentWith) return;
      await this.refresh();
      const roles = this.me?.roles.join(', ') || 'none';
      showMessage('info', `Your account changed since you signed in, so your session was refreshed. Roles: ${roles}.`);
    })()
      .catch(this.onBackgroundError)
      .finally(() => {
        this.staleRenewal = null;
      });
  }

  /**
   * A new ID token now, so that changed role claims apply; then /me again. In cookie
   * mode only /me: the cookie keeps the claims it was made with (removed roles still
   * stop counting at once, and revocation ends it), and the ID token is not used.
   */
  async refresh(): Promise<void> {
    this.lastRefresh = Date.now();
    if (this.currentMode === 'bearer') await this.idToken(true);
    await this.loadMe();
    this.emit();
  }

  async loadMe(): Promise<void> {
    try {
      this.me = (await this.api.call<Me>('GET', '/me')).data;
      this.meError = null;
    } catch (error) {
      this.me = null;
      this.meError = error;
      throw error;
    }
  }

  private refreshOnReturn(): void {
    if (!this.user || Date.now() - this.lastRefresh < FOCUS_REFRESH_INTERVAL_MS) return;
    this.refresh().catch(this.onBackgroundError);
  }

  private async userChanged(user: User | null): Promise<void> {
    const generation = ++this.generation;
    this.user = user;
    this.staleAdvised = false;
    this.me = null;
    this.meError = null;
    this.pending = Boolean(user);
    if (user) {
      this.lastRefresh = Date.now();
      if (this.currentMode === 'cookie') {
        // signIn() sets the cookie; it reports its failure, and signs out (a newer change).
        const signingIn = this.cookieSignIn;
        if (!signingIn) {
          await signOut(this.auth); // a user without a cookie session: cannot happen in-memory
          return;
        }
        const started = await signingIn.then(
          () => true,
          () => false,
        );
        if (!started || generation !== this.generation) return;
      }
      try {
        await this.loadMe();
      } catch (error) {
        if (generation !== this.generation) return;
        if (this.currentMode === 'cookie' && error instanceof ApiError && error.code === 'missing_token') {
          this.pending = false;
          await this.end(`${COOKIE_NOT_SENT} [${error.status} ${error.code}]`);
          return;
        }
        this.onBackgroundError(error);
      }
      if (generation !== this.generation) return;
    }
    this.pending = false;
    this.ready = true;
    this.emit();
  }

  private async scheduleRefresh(user: User | null): Promise<void> {
    window.clearTimeout(this.refreshTimer);
    this.tokenExpiresAt = null;
    // Cookie mode sends no ID token, so there is none to keep fresh.
    if (user && this.currentMode === 'bearer') {
      try {
        const result = await user.getIdTokenResult();
        this.tokenExpiresAt = new Date(result.expirationTime);
        const delay = Math.max(this.tokenExpiresAt.getTime() - Date.now() - REFRESH_BEFORE_EXPIRY_MS, MIN_REFRESH_DELAY_MS);
        this.refreshTimer = window.setTimeout(() => this.refresh().catch(this.onBackgroundError), delay);
      } catch (error) {
        this.onBackgroundError(error);
      }
    }
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

/** The user's second factor is not one this page can use (it asks for SMS codes only). */
export class SecondFactorUnsupported extends Error {
  constructor() {
    super('Your second factor is not a phone: this page can only use SMS codes.');
    this.name = 'SecondFactorUnsupported';
  }
}

/** Signing in again for a step-up failed (a wrong password or code, say): nothing was sent. */
export class StepUpFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepUpFailed';
  }
}

/** Why signing in again failed, for people, as a `StepUpFailed` (an error that ends the session as is). */
function stepUpFailed(error: unknown, config: AppConfig): unknown {
  let reason: string;
  if (error instanceof SecondFactorUnsupported) {
    reason = error.message;
  } else if (error instanceof FirebaseError) {
    if (SESSION_ENDING_CODES.has(error.code)) return error; // the session is over: said elsewhere
    reason = WRONG_PASSWORD_CODES.has(error.code) ? 'Wrong password.' : describeAuthError(error, config);
  } else {
    return error;
  }
  return new StepUpFailed(`${reason} Nothing was changed, since you were not signed in again: try again.`);
}

/** Firebase Auth's codes for a wrong password (they differ between versions and the emulator). */
const WRONG_PASSWORD_CODES = new Set(['auth/invalid-credential', 'auth/invalid-login-credentials', 'auth/wrong-password']);

/** Firebase Auth's sign-in errors, for people. */
export function describeAuthError(error: FirebaseError, config: AppConfig): string {
  switch (error.code) {
    case 'auth/invalid-credential':
    case 'auth/invalid-login-credentials':
    case 'auth/wrong-password':
    case 'auth/user-not-found':
      return config.tenantId === null
        ? 'Wrong email or password.'
        : `Wrong email or password. This page signs in accounts of the organisation "${config.tenantId}" only (an Identity Platform tenant).`;
    case 'auth/tenant-id-mismatch':
      return `This account does not belong to the organisation "${config.tenantId ?? ''}" this page signs in to.`;
    case 'auth/invalid-verification-code':
      return 'Wrong code.';
    case 'auth/code-expired':
      return 'That code has expired: ask for a new one.';
    case 'auth/invalid-email':
      return 'That is not a valid email address.';
    case 'auth/missing-password':
      return 'Please enter your password.';
    case 'auth/user-disabled':
      return 'This account is disabled.';
    case 'auth/too-many-requests':
      return 'Too many attempts. Wait a minute and try again.';
    case 'auth/network-request-failed':
      return config.authEmulator
        ? `Could not reach the Auth emulator at ${config.authEmulator}. Is scripts/dev running?`
        : 'Could not reach Firebase Auth. Check your connection.';
    default:
      return `Sign-in failed: ${error.message} [${error.code}]`;
  }
}
