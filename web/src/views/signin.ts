import { clearMessage } from '../flash';
import type { Ctx } from '../context';
import { busy, field, h } from '../dom';

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
    field('Email', email),
    field('Password', password),
    submit,
    config.authEmulator
      ? h('p', { class: 'muted' }, 'Local run: the demo users and their passwords are printed by scripts/dev.')
      : null,
  );
  return form;
}
