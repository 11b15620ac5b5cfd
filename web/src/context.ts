// What every view needs: the session, the API, error reporting, and names for uids.

import { FirebaseError } from 'firebase/app';

import { ApiError, describeApiError, type AdminUser, type Api, type Me } from './api';
import { showMessage } from './flash';
import { describeAuthError, SessionEnded, type Session } from './session';

/** A mistake in what the user typed, explained without calling the server. */
export class UserError extends Error {}

export class Ctx {
  /** Emails of uids met in this tab (admin look-ups), to show instead of bare uids. */
  private readonly names = new Map<string, string>();

  constructor(readonly session: Session) {}

  get api(): Api {
    return this.session.api;
  }

  get me(): Me {
    if (!this.session.me) throw new Error('not signed in');
    return this.session.me;
  }

  remember(user: Pick<AdminUser, 'uid' | 'email'>): void {
    if (user.email) this.names.set(user.uid, user.email);
  }

  /** "you", a known email, or the uid. */
  label(uid: string | null | undefined): string {
    if (!uid) return '—';
    if (uid === this.session.me?.uid) return 'you';
    return this.names.get(uid) ?? uid;
  }

  /**
   * A uid from what was typed: a uid as is, or an email looked up with the admin API
   * (only admins may look users up by email; others share by uid).
   */
  async resolveUser(text: string): Promise<string> {
    const value = text.trim();
    if (!value) throw new UserError('Enter a user id or an email address.');
    if (!value.includes('@')) return value;
    if (!this.session.hasRole('admin')) {
      throw new UserError(
        'Only admins can look users up by email. Ask the person for their user id: it is shown ' +
          'at the top of the page when they are signed in.',
      );
    }
    const { data } = await this.api.call<AdminUser>('GET', `/admin/users?email=${encodeURIComponent(value)}`);
    this.remember(data);
    return data.uid;
  }

  /** Shows what went wrong; a 401 ends the session. */
  async report(error: unknown): Promise<void> {
    if (error instanceof SessionEnded) return; // already said why
    if (error instanceof ApiError) {
      if (error.status === 401) {
        await this.session.end(describeApiError(error));
        return;
      }
      showMessage('error', describeApiError(error));
      if (error.status === 403 && error.code === 'forbidden' && this.session.me?.roles.length) {
        // Perhaps a role was removed since this token was issued: renew it, so the
        // page shows only what is still allowed (or signs out if sessions were revoked).
        this.session.refresh().catch(() => undefined);
      }
      return;
    }
    if (error instanceof UserError) {
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
