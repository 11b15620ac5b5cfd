// The admin page: look a user up by email and set their roles (admins); read the
// audit log (admins and auditors).

import type { AdminUser, AuditEntry, Page, RolesChange } from '../api';
import type { Ctx } from '../context';
import { clearMessage, showMessage } from '../flash';
import { busy, field, formatTime, h } from '../dom';

const ROLES = ['admin', 'auditor'] as const;

export function adminView(ctx: Ctx): HTMLElement {
  const section = h('section', { 'aria-label': 'Admin' });
  const audit = auditLog(ctx);
  if (ctx.session.hasRole('admin')) section.append(userRoles(ctx, () => audit.reload()));
  section.append(audit.element);
  return section;
}

function userRoles(ctx: Ctx, changed: () => Promise<void>): HTMLElement {
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off' });
  const find = h('button', { type: 'submit', class: 'primary' }, 'Find user');
  const result = h('div', { class: 'user-result' });

  const showUser = (user: AdminUser): void => {
    const boxes = ROLES.map((role) =>
      h('input', { type: 'checkbox', name: 'role', value: role, checked: user.roles.includes(role) }),
    );
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save roles');
    result.replaceChildren(
      h(
        'form',
        {
          class: 'card',
          'aria-label': 'Roles',
          onsubmit: (event: Event) => {
            event.preventDefault();
            clearMessage();
            void busy(save, async () => {
              try {
                const roles = boxes.filter((box) => box.checked).map((box) => box.value);
                const path = `/admin/users/${encodeURIComponent(user.uid)}/roles`;
                const { data } = await ctx.api.call<RolesChange>('PUT', path, { body: { roles } });
                if (!(await rolesSaved(ctx, user, data))) return; // signed out
                showUser({ ...user, roles: data.roles });
                await changed();
              } catch (error) {
                await ctx.report(error);
              }
            });
          },
        },
        h('h3', {}, user.email ?? user.uid),
        h('p', { class: 'muted small' }, `uid ${user.uid}${user.disabled ? ' · account disabled' : ''}`),
        h(
          'fieldset',
          {},
          h('legend', {}, 'Roles'),
          ...boxes.map((box) => h('label', { class: 'check' }, box, ` ${box.value}`)),
        ),
        save,
      ),
    );
  };

  const form = h(
    'form',
    {
      class: 'card',
      'aria-label': 'Find user',
      onsubmit: (event: Event) => {
        event.preventDefault();
        clearMessage();
        result.replaceChildren();
        void busy(find, async () => {
          try {
            const query = `/admin/users?email=${encodeURIComponent(email.value.trim())}`;
            const { data } = await ctx.api.call<AdminUser>('GET', query);
            ctx.remember(data);
            showUser(data);
          } catch (error) {
            await ctx.report(error);
          }
        });
      },
    },
    h('h2', {}, 'Users and roles'),
    h('div', { class: 'row' }, field('Email', email), find),
  );
  return h('div', {}, form, result);
}

/**
 * After a role change: renew our own token at once, or say when the other user gets it.
 * False when the change ended our own session.
 */
async function rolesSaved(ctx: Ctx, user: AdminUser, change: RolesChange): Promise<boolean> {
  const who = user.email ?? user.uid;
  const roles = change.roles.length ? change.roles.join(', ') : 'no roles';
  if (change.uid === ctx.me.uid) {
    if (change.sessionsRevoked) {
      // Removing a role revoked our own sessions too (Firebase refuses to renew them).
      await ctx.session.end(`Your roles are now: ${roles}. Removing a role signs you out everywhere: please sign in again.`);
      return false;
    }
    if (ctx.session.mode === 'cookie') {
      // The cookie keeps the claims it was made with; a new one needs a new sign-in.
      showMessage('info', `Your roles are now: ${roles}. Your cookie session keeps its old roles: sign out and in again to use the new ones.`);
      return true;
    }
    // Granted: a new ID token carries the new claims at once.
    await ctx.session.refresh();
    showMessage('info', `Your roles are now: ${roles}. Your session was refreshed.`);
    return true;
  }
  const when = change.sessionsRevoked
    ? 'Removed roles apply at once: their sessions were revoked, so they must sign in again.'
    : 'They get new roles when their session refreshes: at once when they press “Refresh session” or return to the page, otherwise within the hour.';
  showMessage('info', `Saved: ${who} now has ${roles}. ${when}`);
  return true;
}

function auditLog(ctx: Ctx): { element: HTMLElement; reload: () => Promise<void> } {
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  const refresh = h('button', { type: 'button' }, 'Reload');
  let nextCursor: string | null = null;

  const roles = (value: { roles?: string[] } | null): string => (value?.roles?.length ? value.roles.join(', ') : '—');
  const row = (entry: AuditEntry): HTMLElement =>
    h(
      'tr',
      {},
      h('td', {}, formatTime(entry.time)),
      h('td', {}, entry.action ?? '—'),
      h('td', {}, ctx.label(entry.actor)),
      h('td', {}, ctx.label(entry.target)),
      h('td', {}, roles(entry.before)),
      h('td', {}, roles(entry.after)),
      h('td', {}, entry.outcome ?? '—'),
    );

  async function load(cursor: string | null): Promise<void> {
    const query = cursor ? `?limit=20&cursor=${encodeURIComponent(cursor)}` : '?limit=20';
    const { data } = await ctx.api.call<Page<AuditEntry>>('GET', `/admin/audit${query}`);
    if (!cursor) body.replaceChildren();
    body.append(...data.items.map(row));
    if (!body.childElementCount) body.append(h('tr', {}, h('td', { colSpan: 7, class: 'muted' }, 'No entries yet.')));
    nextCursor = data.nextCursor;
    more.hidden = !nextCursor;
  }
  const reload = (): Promise<void> => load(null).catch((error) => ctx.report(error));
  more.addEventListener('click', () => void busy(more, () => load(nextCursor).catch((error) => ctx.report(error))));
  refresh.addEventListener('click', () => void busy(refresh, reload));
  void reload();

  const element = h(
    'div',
    { class: 'card' },
    h('div', { class: 'row spread' }, h('h2', {}, 'Audit log'), refresh),
    h(
      'table',
      { 'aria-label': 'Audit log' },
      h(
        'thead',
        {},
        h('tr', {}, ...['Time', 'Action', 'Actor', 'Target', 'Before', 'After', 'Outcome'].map((text) => h('th', {}, text))),
      ),
      body,
    ),
    more,
  );
  return { element, reload };
}
