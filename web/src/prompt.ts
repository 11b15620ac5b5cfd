// A small modal form that asks for one value (a password, an SMS code): a <dialog>
// instead of window.prompt, so that a password is typed into a password field.

import { field, h } from './dom';

/** Asks for one value; resolves to it, or to null when the user cancels. */
export function askFor(title: string, explanation: string, label: string, type: 'password' | 'text'): Promise<string | null> {
  return new Promise((resolve) => {
    const input = h('input', {
      type,
      name: type === 'password' ? 'step-up-password' : 'step-up-code',
      autocomplete: type === 'password' ? 'current-password' : 'one-time-code',
      required: true,
    });
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const dialog = h(
      'dialog',
      { class: 'card narrow', 'aria-label': title },
      h(
        'form',
        { method: 'dialog' },
        h('h2', {}, title),
        h('p', {}, explanation),
        field(label, input),
        h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Continue'), cancel),
      ),
    );
    let answer: string | null = null;
    dialog.addEventListener('submit', () => {
      answer = input.value;
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}
