import { clearMessage } from '../flash';
import { probablySameSite, TENANT_COOKIE_UNSUPPORTED, type SessionMode } from '../config';
import type { Ctx } from '../context';
import { busy, field, h } from '../dom';

const MODE_LABELS: Record<SessionMode, string> = {
  bearer: 'Bearer token',
  cookie: 'Cookie',
};

export function signInView(ctx: Ctx): HTMLElement {
  const { config } = ctx.session;
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card narrow',
      onsubmit: (event: Event) => {
        event.preventDefault();
        clearMessage();
        void busy(submit, () => ctx.session.signIn(email.value.trim(), password.value).catch((error) => ctx.report(error)));
      },
    },
    h('h2', {}, 'Sign in'),
    config.tenantId === null
      ? null
      : h('p', { class: 'muted', 'data-testid': 'tenant' }, `Accounts of the organisation "${config.tenantId}" (Identity Platform tenant).`),
    field('Email', email),
    field('Password', password),
    config.tenantId === null ? sessionModeChoice(ctx) : tenantSessionNote(),
    submit,
    config.authEmulator
      ? h('p', { class: 'muted' }, 'Local run: the demo users and their passwords are printed by scripts/dev.')
      : null,
  );
  return form;
}

/** A tenant build has no choice: tenant accounts cannot have session cookies. */
function tenantSessionNote(): HTMLElement {
  return h(
    'fieldset',
    { class: 'session-mode' },
    h('legend', {}, 'Session'),
    h('div', {}, h('small', { class: 'muted' }, `Bearer token: every request carries your ID token, which this page keeps in memory. ${TENANT_COOKIE_UNSUPPORTED}.`)),
  );
}

/** Bearer token or cookie session, for the next sign-in; kept in the URL (`?mode=`). */
function sessionModeChoice(ctx: Ctx): HTMLElement {
  const { session } = ctx;
  const explain = h('small', { class: 'muted' });
  const update = (): void => {
    explain.textContent =
      session.mode === 'cookie'
        ? 'The API sets an HttpOnly session cookie once you sign in; signing out ends it on the server, and every other session of yours.'
        : 'Every request carries your ID token, which this page keeps in memory.';
    if (session.mode === 'cookie' && !probablySameSite(session.config.apiBase)) {
      explain.textContent +=
        ` This page (${location.origin}) and the API (${session.config.apiBase}) look like different sites,` +
        ' where browsers do not send the SameSite=Strict cookie: use bearer mode.';
    }
  };
  const radios = (['bearer', 'cookie'] as const).map((mode) =>
    h('input', { type: 'radio', name: 'session-mode', value: mode, checked: session.mode === mode }),
  );
  for (const radio of radios) {
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      session.setMode(radio.value as SessionMode); // refused while a sign-in is under way
      for (const other of radios) other.checked = other.value === session.mode;
      update();
    });
  }
  const choices = radios.map((radio) => h('label', { class: 'check' }, radio, ` ${MODE_LABELS[radio.value as SessionMode]}`));
  update();
  return h('fieldset', { class: 'session-mode' }, h('legend', {}, 'Session'), ...choices, h('div', {}, explain));
}
