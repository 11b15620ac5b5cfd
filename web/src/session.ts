// The signed-in user: Firebase Auth (modular SDK) with in-memory persistence, the
// backend's view of them (GET /me), and keeping the ID token fresh.
//
// Token lifecycle:
//   - the ID token and refresh token live only in this tab's memory (no localStorage,
//     no IndexedDB): a reload signs out;
//   - every API call asks the SDK for the token, which renews it when it expires
//     within 30 s; a timer also renews it 5 minutes before it expires;
//   - it is renewed at once (getIdToken(true)) by "Refresh session", when the page
//     regains focus, and after the admin page changes the current user's roles, so
//     that new role claims take effect without signing in again.

import { FirebaseError, initializeApp } from 'firebase/app';
import {
  connectAuthEmulator,
  inMemoryPersistence,
  initializeAuth,
  onAuthStateChanged,
  onIdTokenChanged,
  signInWithEmailAndPassword,
  signOut,
  type Auth,
  type User,
} from 'firebase/auth';

import { Api, type Me, type TokenSource } from './api';
import type { AppConfig } from './config';
import { showMessage } from './flash';

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
  /** The backend's view of the user; null while signed out or when /me failed. */
  me: Me | null = null;
  meError: unknown = null;
  tokenExpiresAt: Date | null = null;
  /** Errors of work nobody awaits (timers, focus); set by the UI. */
  onBackgroundError: (error: unknown) => void = (error) => console.error(error);

  private readonly listeners = new Set<() => void>();
  private refreshTimer: number | undefined;
  private lastRefresh = 0;

  constructor(readonly config: AppConfig) {
    const app = initializeApp({
      apiKey: config.apiKey,
      authDomain: config.authDomain,
      projectId: config.projectId,
    });
    this.auth = initializeAuth(app, { persistence: inMemoryPersistence });
    if (config.authEmulator) {
      // Our own banner says "Auth emulator"; the SDK's would cover the page's bottom.
      connectAuthEmulator(this.auth, `http://${config.authEmulator}`, { disableWarnings: true });
    }
    this.api = new Api(config.apiBase, this);
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
    await signInWithEmailAndPassword(this.auth, email, password);
  }

  async signOut(): Promise<void> {
    await signOut(this.auth);
  }

  /** Signs out because the session cannot go on, and says why. */
  async end(reason: string): Promise<void> {
    showMessage('error', reason);
    if (this.auth.currentUser) await signOut(this.auth);
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

  /** A new ID token now, so that changed role claims apply; then /me again. */
  async refresh(): Promise<void> {
    this.lastRefresh = Date.now();
    await this.idToken(true);
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
    this.user = user;
    this.me = null;
    this.meError = null;
    if (user) {
      this.lastRefresh = Date.now();
      try {
        await this.loadMe();
      } catch (error) {
        this.onBackgroundError(error);
      }
    }
    this.ready = true;
    this.emit();
  }

  private async scheduleRefresh(user: User | null): Promise<void> {
    window.clearTimeout(this.refreshTimer);
    this.tokenExpiresAt = null;
    if (user) {
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

/** Firebase Auth's sign-in errors, for people. */
export function describeAuthError(error: FirebaseError, config: AppConfig): string {
  switch (error.code) {
    case 'auth/invalid-credential':
    case 'auth/invalid-login-credentials':
    case 'auth/wrong-password':
    case 'auth/user-not-found':
      return 'Wrong email or password.';
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
