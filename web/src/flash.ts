// The one message line under the header (#message): errors and confirmations.

export type MessageKind = 'info' | 'error';

function box(): HTMLElement {
  const element = document.getElementById('message');
  if (!element) throw new Error('index.html has no #message element');
  return element;
}

export function showMessage(kind: MessageKind, text: string): void {
  const element = box();
  element.dataset.kind = kind;
  element.textContent = text;
  element.hidden = false;
}

export function clearMessage(): void {
  const element = box();
  element.hidden = true;
  element.textContent = '';
  delete element.dataset.kind;
}
