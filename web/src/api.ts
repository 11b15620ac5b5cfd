// The backend's HTTP API: a bearer token or the session cookie on every call, an App
// Check token when the build uses App Check, If-Match on edits, and one error type that
// carries the status and the `{"error": {code, message, details}}` body. A response
// marked `X-Claims-Stale: 1` (the user's roles or verified email changed since the
// token was minted) is reported to the token source, which renews the token once.

import { APP_CHECK_HEADER, type AppCheckTokens } from './appcheck';
import type { SessionMode } from './config';

/** Set by the backend when the user record grants more than the token carries. */
export const CLAIMS_STALE_HEADER = 'X-Claims-Stale';

export interface Project {
  id: string;
  name: string;
  description: string;
  ownerId: string;
  editors: string[];
  viewers: string[];
  createdAt: string;
  updatedAt: string;
  version: number;
  /** Every member with their email and display name (absent from older backends). */
  people?: Person[];
}

export type MemberRole = 'owner' | 'editor' | 'viewer';

/** A project member as the project JSON lists them: shown by email or name, not by uid. */
export interface Person {
  uid: string;
  role: MemberRole;
  email: string | null;
  displayName: string | null;
}

export interface Task {
  id: string;
  projectId: string;
  title: string;
  notes: string;
  done: boolean;
  assigneeId: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** `POST /projects/{id}/tasks`. */
export interface TaskDraft {
  title: string;
  notes?: string;
  done?: boolean;
  assigneeId?: string | null;
}

/** `PATCH /projects/{id}/tasks/{taskId}`: any non-empty subset. */
export type TaskChange = Partial<Pick<Task, 'title' | 'notes' | 'assigneeId' | 'done'>>;

/** Which tasks a list shows: `done=false`, `done=true`, or no filter. */
export type TaskFilter = 'open' | 'done' | 'all';

export const TASK_TITLE_MAX = 200;
export const TASK_NOTES_MAX = 5000;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Me {
  uid: string;
  email: string | null;
  emailVerified: boolean;
  roles: string[];
  signInProvider: string | null;
  authTime: number | null;
  /** The Identity Platform tenant of the account; null for project-level users (absent from older backends). */
  tenant?: string | null;
}

export interface AdminUser {
  uid: string;
  email: string | null;
  roles: string[];
  disabled: boolean;
}

export interface RolesChange {
  uid: string;
  roles: string[];
  sessionsRevoked: boolean;
}

export interface AuditEntry {
  id: string;
  action: string | null;
  actor: string | null;
  target: string | null;
  before: { roles?: string[] } | null;
  after: { roles?: string[] } | null;
  time: string | null;
  outcome: string | null;
  requestId: string | null;
}

/** Where ID tokens come from (the Firebase SDK, via the session). */
export interface TokenSource {
  /** How calls authenticate; changes only while signed out. */
  readonly mode: SessionMode;
  idToken(forceRefresh: boolean): Promise<string>;
  /** Throws when nobody is signed in (cookie mode sends no token that would). */
  assertSignedIn(): void;
  /**
   * Asked after `401 step_up_required`: has the user sign in again (password, then the
   * second factor) so that a new ID token meets the operation; false when they cancel.
   */
  stepUp(error: ApiError): Promise<boolean>;

  /**
   * A response to a request sent with `sentWith` (null in cookie mode) said the claims
   * are stale: renew the token (once for that token) and reload what depends on them.
   */
  claimsStale(sentWith: string | null): void;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, string> = {},
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiResult<T> {
  data: T;
  etag: string | null;
}

interface CallOptions {
  body?: unknown;
  /** The ETag the change is based on; the server answers 412 if the document moved on. */
  ifMatch?: string;
}

/** 401 codes a fresh ID token can cure (an expired or not yet valid token). */
const RETRY_WITH_FRESH_TOKEN = new Set(['token_expired', 'invalid_token']);
/** 401: the sign-in is too weak or too old for this operation; signing in again cures it. */
export const STEP_UP_REQUIRED = 'step_up_required';

/** 401 codes about the app (App Check), not the user: they never end the session. */
export const APP_CHECK_CODES = new Set(['app_check_failed', 'app_check_replayed']);

interface Sent {
  response: Response;
  /** The ID token the request carried (null in cookie mode). */
  idToken: string | null;
}

export class Api {
  constructor(
    readonly base: string,
    private readonly tokens: TokenSource,
    private readonly appCheck: AppCheckTokens | null = null,
  ) {}

  async call<T>(method: string, path: string, options: CallOptions = {}): Promise<ApiResult<T>> {
    let sent = await this.send(method, path, options, false);
    // A cookie cannot be renewed from here: a 401 in cookie mode ends the session.
    if (sent.response.status === 401 && this.tokens.mode === 'bearer') {
      const error = await errorOf(sent.response);
      if (error.code === STEP_UP_REQUIRED) {
        if (!(await this.tokens.stepUp(error))) throw error;
      } else if (!RETRY_WITH_FRESH_TOKEN.has(error.code)) {
        throw error;
      }
      sent = await this.send(method, path, options, true);
    }
    const { response } = sent;
    if (response.headers.get(CLAIMS_STALE_HEADER) === '1') this.tokens.claimsStale(sent.idToken);
    if (!response.ok) throw await errorOf(response);
    const text = await response.text();
    return { data: (text ? JSON.parse(text) : null) as T, etag: response.headers.get('ETag') };
  }

  /**
   * Cookie mode, once after sign-in: trade a fresh ID token (a sign-in of the last
   * 5 minutes) for the HttpOnly `__session` cookie. The browser stores the cookie only
   * because the request is credentialed; this page never sees it.
   */
  async startCookieSession(idToken: string): Promise<void> {
    const response = await this.fetch('/session', {
      method: 'POST',
      headers: { Authorization: `Bearer ${idToken}`, ...(await this.appCheckHeader('POST', '/session')) },
      credentials: 'include',
    });
    if (!response.ok) throw await errorOf(response);
  }

  /** Cookie mode, on sign-out: the server clears the cookie and revokes the user's sessions. */
  async endCookieSession(): Promise<void> {
    const headers = await this.appCheckHeader('DELETE', '/session');
    const response = await this.fetch('/session', { method: 'DELETE', headers, credentials: 'include' });
    if (!response.ok) throw await errorOf(response);
  }

  private async send(method: string, path: string, options: CallOptions, fresh: boolean): Promise<Sent> {
    const headers: Record<string, string> = {};
    const cookie = this.tokens.mode === 'cookie';
    let idToken: string | null = null;
    if (cookie) {
      this.tokens.assertSignedIn();
    } else {
      // getIdToken() returns the cached token, or a new one if it expires within 30 s.
      idToken = await this.tokens.idToken(fresh);
      headers.Authorization = `Bearer ${idToken}`;
    }
    // Asked for on every send: a retry of a single-use operation needs a new token.
    Object.assign(headers, await this.appCheckHeader(method, path));
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.ifMatch) headers['If-Match'] = options.ifMatch;
    const response = await this.fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      // Bearer mode never sends cookies, so a stale session cookie cannot stand in for it.
      credentials: cookie ? 'include' : 'omit',
    });
    return { response, idToken };
  }

  /** `X-Firebase-AppCheck` for this call, when App Check is on and gave a token. */
  private async appCheckHeader(method: string, path: string): Promise<Record<string, string>> {
    const token = this.appCheck ? await this.appCheck.tokenFor(method, path) : null;
    return token ? { [APP_CHECK_HEADER]: token } : {};
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.base + path, { ...init, cache: 'no-store' });
    } catch {
      throw new ApiError(
        0,
        'network_error',
        `Could not reach the backend at ${this.base || location.origin}. Is it running, and does its ` +
          `CORS_ALLOWED_ORIGINS list this page's origin (${location.origin})?`,
      );
    }
  }
}

/** The ETag the server sends for a project or task (`"<version>"`), rebuilt from a list item. */
export function etagOf(document: { version: number }): string {
  return `"${document.version}"`;
}

export function projectPath(projectId: string): string {
  return `/projects/${encodeURIComponent(projectId)}`;
}

export function tasksPath(projectId: string, taskId?: string): string {
  const tasks = `${projectPath(projectId)}/tasks`;
  return taskId === undefined ? tasks : `${tasks}/${encodeURIComponent(taskId)}`;
}

/** `GET /projects/{id}/tasks` with a filter and an optional cursor, newest first. */
export function taskListPath(projectId: string, filter: TaskFilter, cursor: string | null, limit = 20): string {
  const query = new URLSearchParams({ limit: String(limit) });
  if (filter !== 'all') query.set('done', String(filter === 'done'));
  if (cursor) query.set('cursor', cursor);
  return `${tasksPath(projectId)}?${query.toString()}`;
}

async function errorOf(response: Response): Promise<ApiError> {
  const requestId = response.headers.get('X-Request-Id');
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; details?: Record<string, string> } };
    if (body.error?.code) {
      return new ApiError(response.status, body.error.code, body.error.message ?? '', body.error.details ?? {}, requestId);
    }
  } catch {
    // Not our JSON error body (a proxy's HTML page, say): fall through.
  }
  return new ApiError(response.status, `http_${response.status}`, response.statusText || 'Unexpected response', {}, requestId);
}

/** What a change was about, for the 412 sentence. */
export type Subject = 'project' | 'task';

/** A sentence for people, with the status, code and server message kept for support. */
export function describeApiError(error: ApiError, subject: Subject = 'project'): string {
  const fields = Object.entries(error.details).map(([name, reason]) => `${name} ${reason}`);
  const explained = ((): string => {
    switch (error.status) {
      case 0:
        return error.message;
      case 400:
        if (error.code === 'unknown_user') return 'There is no user with that id.';
        if (error.code === 'assignee_not_member') return 'Tasks can be assigned only to members of the project.';
        if (error.code === 'tenant_session_unsupported') {
          return (
            'Cookie sessions are not available to this account, which belongs to an organisation ' +
            '(an Identity Platform tenant), so you were not signed in. Choose "Bearer token" under Session and sign in again.'
          );
        }
        if (fields.length) return `Please check the form: ${fields.join('; ')}.`;
        return 'The request was not accepted.';
      case 401:
        if (error.code === STEP_UP_REQUIRED) {
          return 'Not done: this needs you to confirm it is you by signing in again, which did not happen. Nothing was changed; try again to confirm.';
        }
        if (error.code === 'app_check_failed') {
          return (
            'The server could not confirm that this request came from this app (App Check), so it ' +
            'refused it. You are still signed in: reload the page and try again. If this persists, ' +
            'App Check is not set up for this app (see web/README.md).'
          );
        }
        if (error.code === 'tenant_not_allowed') {
          return "This server does not accept accounts of your account's organisation (its Identity Platform tenant, or none). Sign in with an account of an organisation it serves.";
        }
        if (error.code === 'app_check_replayed') {
          return 'This request reused a one-time App Check token, so the server refused it. You are still signed in: try again.';
        }
        return 'Your session is no longer valid. Please sign in again.';
      case 403:
        if (error.code === 'email_not_verified') {
          return 'Your email address is not verified yet, so you can look but not change anything.';
        }
        if (error.code === 'anonymous_not_allowed') {
          return 'You are signed in as a guest, so you can look but not change anything. Sign in with an account to make changes.';
        }
        if (error.code === 'provider_not_allowed') return 'This sign-in method is not accepted here.';
        return 'You are not allowed to do that.';
      case 404:
        if (error.code === 'user_not_found') return 'There is no user with that email address.';
        return 'Not found: it was deleted, or you no longer have access to it.';
      case 409:
        if (error.code === 'self_demotion') return 'You cannot remove your own admin role; ask another admin to do it.';
        if (error.code === 'busy') return 'Someone else is changing this right now. Try again in a few seconds.';
        if (error.code === 'too_many_members') return 'This project already has the maximum number of members.';
        return 'That conflicts with the current state.';
      case 412:
        return `Someone else changed this ${subject} after you loaded it. The list now shows the latest version: check it and try again.`;
      default:
        if (error.status >= 500) return 'The server could not handle the request. Try again later.';
        return 'The request failed.';
    }
  })();
  if (error.status === 0) return explained;
  const server = error.message && !explained.includes(error.message) ? `: ${error.message}` : '';
  const id = error.status >= 500 && error.requestId ? ` (request id ${error.requestId})` : '';
  return `${explained} [${error.status} ${error.code}${server}]${id}`;
}
