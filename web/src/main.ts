// The page shell: header (who is signed in, navigation, session buttons), the
// message line, the current view (#/projects or #/admin) and the footer.

import './style.css';

import { ConfigError, loadConfig, type AppConfig } from './config';
import { Ctx } from './context';
import { busy, h } from './dom';
import { clearMessage, showMessage } from './flash';
import { Session } from './session';
import { adminView } from './views/admin';
import { projectsView } from './views/projects';
import { signInView } from './views/signin';

const top = document.getElementById('top')!;
const view = document.getElementById('view')!;
const footer = document.getElementById('env')!;

type Route = 'projects' | 'admin';
const route = (): Route => (location.hash === '#/admin' ? 'admin' : 'projects');

function main(): void {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    const problems = error instanceof ConfigError ? error.problems : [String(error)];
    view.replaceChildren(
      h('div', { class: 'card' }, h('h2', {}, 'This build is not configured'), h('ul', {}, ...problems.map((p) => h('li', {}, p))),
        h('p', {}, 'Set the VITE_ variables (see web/.env.example) and build again.')),
    );
    return;
  }
  const session = new Session(config);
  const ctx = new Ctx(session);
  session.onBackgroundError = (error) => void ctx.report(error);

  footer.replaceChildren(
    h('span', {}, config.authEmulator ? `Auth emulator ${config.authEmulator}` : `Firebase project ${config.projectId}`),
    h('span', {}, `API ${config.apiBase || location.origin}`),
    ...(config.tenantId === null ? [] : [h('span', {}, `Tenant ${config.tenantId}`)]),
  );

  // The view is rebuilt only when what it depends on changes (user, what their roles
  // allow, route), so a token refresh does not wipe what someone is typing.
  let shown = '';
  const render = (): void => {
    top.replaceChildren(...header(ctx));
    const access = [session.hasRole('admin'), session.hasRole('auditor') && !session.hasRole('admin')];
    const key = JSON.stringify([session.ready, session.user?.uid, session.pending, Boolean(session.me), access, route()]);
    if (key === shown) return;
    shown = key;
    view.replaceChildren(currentView(ctx));
  };
  session.subscribe(render);
  window.addEventListener('hashchange', () => {
    clearMessage();
    render();
  });
  session.start();
}

function currentView(ctx: Ctx): HTMLElement {
  const { session } = ctx;
  if (!session.ready) return h('p', { class: 'muted' }, 'Loading…');
  if (!session.user) return signInView(ctx);
  if (session.pending) return h('p', { class: 'muted' }, 'Signing in…');
  if (!session.me) {
    const retry = h('button', { type: 'button' }, 'Try again');
    retry.addEventListener('click', () => void busy(retry, () => session.refresh().catch((error) => ctx.report(error))));
    return h('div', { class: 'card' }, h('p', {}, 'Could not load your account from the backend.'), retry);
  }
  if (route() === 'admin') {
    if (session.hasRole('admin') || session.hasRole('auditor')) return adminView(ctx);
    return h('div', { class: 'card' }, h('p', {}, 'The admin page needs the admin or auditor role.'), h('a', { href: '#/projects' }, 'Back to projects'));
  }
  return projectsView(ctx);
}

function header(ctx: Ctx): Node[] {
  const { session } = ctx;
  const title = h('h1', {}, 'Projects');
  if (!session.user || session.pending) return [title];
  const me = session.me;
  const links: [Route, string][] = [['projects', 'Projects']];
  if (session.hasRole('admin') || session.hasRole('auditor')) links.push(['admin', 'Admin']);
  const nav = h(
    'nav',
    { 'aria-label': 'Main' },
    ...links.map(([name, text]) => h('a', { href: `#/${name}`, 'aria-current': route() === name ? 'page' : false }, text)),
  );
  const refresh = h('button', { type: 'button' }, 'Refresh session');
  refresh.addEventListener('click', () =>
    void busy(refresh, async () => {
      clearMessage();
      try {
        await session.refresh();
        const roles = session.me?.roles.join(', ') || 'none';
        showMessage(
          'info',
          session.mode === 'cookie'
            ? `Session checked. Roles: ${roles}. A cookie session keeps the roles it started with: sign in again to get new ones.`
            : `Session refreshed. Roles: ${roles}.`,
        );
      } catch (error) {
        await ctx.report(error);
      }
    }),
  );
  const signOut = h('button', { type: 'button' }, 'Sign out');
  signOut.addEventListener('click', () => {
    clearMessage();
    void busy(signOut, () => session.signOut());
  });
  const expires =
    session.mode === 'cookie'
      ? 'cookie session'
      : session.tokenExpiresAt
        ? `token valid until ${session.tokenExpiresAt.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`
        : '';
  const account = h(
    'div',
    { class: 'account', 'data-testid': 'account' },
    h(
      'div',
      { class: 'who' },
      h('div', {}, h('strong', {}, session.user.email ?? session.user.uid), ...(me?.roles ?? []).map((role) => h('span', { class: 'badge role' }, role))),
      h(
        'small',
        { class: 'muted' },
        h('span', { title: 'Your user id: others share projects with you by it' }, `uid ${session.user.uid}`),
        me?.tenant ? h('span', { 'data-testid': 'tenant', title: 'Your organisation: the Identity Platform tenant of your account' }, ` · tenant ${me.tenant}`) : null,
        expires ? ` · ${expires}` : null,
      ),
    ),
    refresh,
    signOut,
  );
  return [title, nav, account];
}

main();
