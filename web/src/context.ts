// What every view needs: the session, the API, error reporting, and names for uids.

import { FirebaseError } from 'firebase/app';

import {
  APP_CHECK_CODES,
  ApiError,
  describeApiError,
  STEP_UP_REQUIRED,
  type AdminUser,
  type Api,
  type Me,
  type Person,
  type Subject,
} from './api';
import { showMessage } from './flash';
import { describeAuthError, SecondFactorUnsupported, SessionEnded, StepUpFailed, type Session } from './session';

/** Cookie mode cannot sign in again in place: its cookie keeps the sign-in it started with. */
const COOKIE_STEP_UP = 'A cookie session keeps the sign-in it started with: sign out, sign in again, then do this.';

/** A mistake in what the user typed, explained without calling the server. */
export class UserError extends Error {}

export class Ctx {
  /** Emails (or display names) of uids met in this tab, to show instead of bare uids. */
  private readonly names = new Map<string, string>();

  constructor(readonly session: Session) {}

  get api(): Api {
    return this.session.api;
  }

  get me(): Me {
    if (!this.session.me) throw new Error('not signed in');
    return this.session.me;
  }

  /** Keeps a user's email (or display name) from an admin look-up or a project's people. */
  remember(user: { uid: string; email: string | null; displayName?: string | null }): void {
    const name = user.email ?? user.displayName;
    if (name) this.names.set(user.uid, name);
  }

  /** The email (or display name) met for this uid in this tab, if any. */
  knownName(uid: string): string | null {
    return this.names.get(uid) ?? null;
  }

  /** "you", a known email, or the uid. */
  label(uid: string | null | undefined): string {
    if (!uid) return '—';
    if (uid === this.session.me?.uid) return 'you';
    return this.names.get(uid) ?? uid;
  }

  /**
   * A uid from what was typed: a uid as is; an email of one of `people` (a project's
   * members); any other email looked up with the admin API (only admins may do that).
   */
  async resolveUser(text: string, people: readonly Person[] = []): Promise<string> {
    const value = text.trim();
    if (!value) throw new UserError('Enter a user id or an email address.');
    if (!value.includes('@')) return value;
    const member = people.find((person) => person.email?.toLowerCase() === value.toLowerCase());
    if (member) return member.uid;
    if (!this.session.hasRole('admin')) {
      throw new UserError(
        'Only admins can look users up by email (members of this project excepted). Ask the person ' +
          'for their user id: it is shown at the top of the page when they are signed in.',
      );
    }
    const { data } = await this.api.call<AdminUser>('GET', `/admin/users?email=${encodeURIComponent(value)}`);
    this.remember(data);
    return data.uid;
  }

  /**
   * Shows what went wrong (`subject`: what a 412 is about); a 401 ends the session, but
   * not App Check's nor a step-up the user did not complete.
   */
  async report(error: unknown, subject: Subject = 'project'): Promise<void> {
    if (error instanceof SessionEnded) return; // already said why
    if (error instanceof ApiError) {
      // App Check refusals are about the app, not the user: say so, stay signed in.
      // A step-up (signing in again) was cancelled or cannot be done here: the session
      // still serves everything else.
      if (error.status === 401 && !APP_CHECK_CODES.has(error.code) && error.code !== STEP_UP_REQUIRED) {
        await this.session.end(describeApiError(error));
        return;
      }
      const cookie = error.code === STEP_UP_REQUIRED && this.session.mode === 'cookie';
      showMessage('error', describeApiError(error, subject) + (cookie ? ` ${COOKIE_STEP_UP}` : ''));
      if (error.status === 403 && error.code === 'forbidden' && this.session.me?.roles.length) {
        // Perhaps a role was removed since this token was issued: renew it, so the
        // page shows only what is still allowed (or signs out if sessions were revoked).
        this.session.refresh().catch(() => undefined);
      }
      return;
    }
    if (error instanceof UserError || error instanceof StepUpFailed || error instanceof SecondFactorUnsupported) {
      showMessage('error', error.message);
      return;
    }
    if (error instanceof FirebaseError) {
      showMessage('error', describeAuthError(error, this.session.config));
      return;
    }
    console.error(error);
    showMessage('error', `Something went wrong: ${String(error)}`);
  }
}
