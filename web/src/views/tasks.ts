// A project's tasks, inside its card: the list (open, done or all; newest first; "Load
// more"), a form to add one, and per task a "done" checkbox, an editor for title, notes
// and assignee, and delete. Assignees are chosen among the project's people by email.

import {
  ApiError,
  etagOf,
  taskListPath,
  tasksPath,
  TASK_NOTES_MAX,
  TASK_TITLE_MAX,
  type Page,
  type Person,
  type Project,
  type Task,
  type TaskChange,
  type TaskDraft,
  type TaskFilter,
} from '../api';
import { UserError, type Ctx } from '../context';
import { busy, field, formatTime, h } from '../dom';
import { clearMessage, showMessage } from '../flash';
import { nameOf, personName, userSpan } from '../people';

/** What the signed-in user may do with this project's tasks (the server decides in the end). */
export interface TaskAccess {
  /** Owner, editor or admin: add, edit, delete, and tick any task. */
  canEdit: boolean;
  /** A member (any role): may tick the tasks assigned to them. */
  isMember: boolean;
}

/** Open task panels and their filters, by project id: kept while the project list reloads. */
export type OpenTaskPanels = Map<string, TaskFilter>;

const FILTERS: [TaskFilter, string][] = [
  ['open', 'Open'],
  ['done', 'Done'],
  ['all', 'All'],
];

const EMPTY: Record<TaskFilter, string> = {
  open: 'No open tasks.',
  done: 'No finished tasks.',
  all: 'No tasks yet.',
};

interface Panel {
  ctx: Ctx;
  project: Project;
  people: Person[];
  access: TaskAccess;
  /** Reloads this panel's list from the first page. */
  reload(): Promise<void>;
  /** After a failed change: says why, then reloads what is out of date. */
  recover(error: unknown): Promise<void>;
}

/** The "Tasks" toggle and the panel it opens; the list loads when the panel opens. */
export function tasksPanel(
  ctx: Ctx,
  project: Project,
  people: Person[],
  access: TaskAccess,
  openPanels: OpenTaskPanels,
  reloadProjects: () => Promise<void>,
): HTMLElement {
  const toggle = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false' }, h('span', { class: 'caret', 'aria-hidden': 'true' }), 'Tasks');
  const region = h('section', { class: 'tasks', 'aria-label': 'Tasks', hidden: true });
  const list = h('ul', { class: 'task-list' });
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  const filter = h('select', { name: 'filter' }, ...FILTERS.map(([value, text]) => h('option', { value }, text)));
  filter.value = openPanels.get(project.id) ?? 'open';
  let items: Task[] = [];
  let nextCursor: string | null = null;
  let latest = 0; // only the newest request's answer is shown

  const current = (): TaskFilter => filter.value as TaskFilter;

  async function load(cursor: string | null): Promise<void> {
    const request = ++latest;
    const { data } = await ctx.api.call<Page<Task>>('GET', taskListPath(project.id, current(), cursor));
    if (request !== latest) return;
    items = cursor ? [...items, ...data.items] : data.items;
    nextCursor = data.nextCursor;
    list.replaceChildren(
      ...(items.length ? items.map((task) => taskItem(panel, task)) : [h('li', { class: 'muted' }, EMPTY[current()])]),
    );
    more.hidden = !nextCursor;
  }

  const panel: Panel = {
    ctx,
    project,
    people,
    access,
    reload: () => load(null).catch((error) => ctx.report(error, 'task')),
    async recover(error: unknown): Promise<void> {
      await ctx.report(error, 'task');
      if (!(error instanceof ApiError)) return;
      if (error.status === 412) {
        await panel.reload();
      } else if (error.status === 403 || error.status === 404 || error.code === 'assignee_not_member') {
        // Access, membership or the task itself changed: rebuild the card (it reopens this panel).
        await reloadProjects();
      }
    },
  };

  const setOpen = (open: boolean): void => {
    toggle.setAttribute('aria-expanded', String(open));
    region.hidden = !open;
    if (!open) {
      openPanels.delete(project.id);
      return;
    }
    openPanels.set(project.id, current());
    list.replaceChildren(h('li', { class: 'muted' }, 'Loading tasks…'));
    void panel.reload();
  };
  toggle.addEventListener('click', () => setOpen(toggle.getAttribute('aria-expanded') !== 'true'));
  filter.addEventListener('change', () => {
    openPanels.set(project.id, current());
    void panel.reload();
  });
  more.addEventListener('click', () => void busy(more, () => load(nextCursor).catch((error) => ctx.report(error, 'task'))));

  region.append(
    access.canEdit
      ? newTaskForm(panel)
      : h('p', { class: 'muted small' }, access.isMember ? 'You can tick the tasks assigned to you.' : 'You can read these tasks.'),
    h('div', { class: 'row' }, field('Show', filter)),
    list,
    more,
  );
  if (openPanels.has(project.id)) setOpen(true);
  return h('div', { class: 'tasks-panel' }, toggle, region);
}

/** Options for the assignee: nobody, or a member by email; a former member stays selectable. */
function assigneeSelect(panel: Panel, current: string | null): HTMLSelectElement {
  const { ctx, people } = panel;
  const choices = people.map((person) =>
    h('option', { value: person.uid }, personName(person) + (person.uid === ctx.me.uid ? ' (you)' : '')),
  );
  if (current && !people.some((person) => person.uid === current)) {
    choices.push(h('option', { value: current }, nameOf(ctx, people, current)));
  }
  const select = h('select', { name: 'assignee' }, h('option', { value: '' }, 'Nobody'), ...choices);
  select.value = current ?? '';
  return select;
}

function newTaskForm(panel: Panel): HTMLFormElement {
  const { ctx, project } = panel;
  const title = h('input', { name: 'title', required: true, maxLength: TASK_TITLE_MAX, autocomplete: 'off' });
  const notes = h('textarea', { name: 'notes', maxLength: TASK_NOTES_MAX, rows: 2 });
  const assignee = assigneeSelect(panel, null);
  const add = h('button', { type: 'submit', class: 'primary' }, 'Add task');
  const form = h(
    'form',
    {
      class: 'task-form',
      'aria-label': 'New task',
      onsubmit: (event: Event) => {
        event.preventDefault();
        clearMessage();
        void busy(add, async () => {
          try {
            const body: TaskDraft = { title: title.value, notes: notes.value };
            if (assignee.value) body.assigneeId = assignee.value;
            const { data } = await ctx.api.call<Task>('POST', tasksPath(project.id), { body });
            const to = data.assigneeId ? `, assigned to ${nameOf(ctx, panel.people, data.assigneeId)}` : '';
            showMessage('info', `Added “${data.title}”${to}.`);
            form.reset();
            await panel.reload();
          } catch (error) {
            await panel.recover(error);
          }
        });
      },
    },
    h('div', { class: 'row' }, field('Title', title), field('Assignee', assignee), add),
    field('Notes', notes),
  );
  return form;
}

function taskItem(panel: Panel, task: Task): HTMLElement {
  const { ctx, project, people, access } = panel;
  const path = tasksPath(project.id, task.id);
  const ifMatch = etagOf(task);
  const canTick = access.canEdit || (access.isMember && task.assigneeId === ctx.me.uid);

  const done = h('input', {
    type: 'checkbox',
    checked: task.done,
    disabled: !canTick,
    'aria-label': `Done: ${task.title}`,
    title: canTick ? undefined : 'Only editors and the task’s assignee can tick it.',
  });
  done.addEventListener('change', () => {
    clearMessage();
    const wanted = done.checked;
    void busy(done, async () => {
      try {
        await ctx.api.call<Task>('PATCH', path, { body: { done: wanted } satisfies TaskChange, ifMatch });
        showMessage('info', wanted ? `Marked “${task.title}” done.` : `Marked “${task.title}” open again.`);
        await panel.reload();
      } catch (error) {
        done.checked = task.done;
        await panel.recover(error);
      }
    });
  });

  const assignee = task.assigneeId ? h('span', {}, 'Assigned to ', userSpan(ctx, people, task.assigneeId)) : h('span', {}, 'Unassigned');
  const item = h(
    'li',
    { class: task.done ? 'task done' : 'task', 'data-testid': 'task', 'data-task-id': task.id, 'aria-label': task.title },
    h(
      'div',
      { class: 'task-line' },
      done,
      h('strong', { class: 'task-title' }, task.title),
    ),
    task.notes ? h('p', { class: 'task-notes' }, task.notes) : null,
    h(
      'p',
      { class: 'muted small' },
      assignee,
      ' · added by ',
      userSpan(ctx, people, task.createdBy),
      ` · updated ${formatTime(task.updatedAt)}`,
    ),
  );
  if (access.canEdit) item.append(taskActions(panel, task, path, ifMatch));
  return item;
}

/** Edit (title, notes, assignee) and delete, for owners, editors and admins. */
function taskActions(panel: Panel, task: Task, path: string, ifMatch: string): HTMLElement {
  const { ctx } = panel;
  const title = h('input', { name: 'title', value: task.title, required: true, maxLength: TASK_TITLE_MAX, autocomplete: 'off' });
  const notes = h('textarea', { name: 'notes', value: task.notes, maxLength: TASK_NOTES_MAX, rows: 3 });
  const assignee = assigneeSelect(panel, task.assigneeId);
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const edit = h('button', { type: 'button', 'aria-expanded': 'false' }, 'Edit');
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');

  const editor = h(
    'form',
    {
      class: 'task-form',
      'aria-label': 'Edit task',
      hidden: true,
      onsubmit: (event: Event) => {
        event.preventDefault();
        clearMessage();
        void busy(save, async () => {
          try {
            const body: TaskChange = {};
            if (title.value !== task.title) body.title = title.value;
            if (notes.value !== task.notes) body.notes = notes.value;
            if ((assignee.value || null) !== task.assigneeId) body.assigneeId = assignee.value || null;
            if (!Object.keys(body).length) throw new UserError('Nothing changed: edit the title, notes or assignee first.');
            const { data } = await ctx.api.call<Task>('PATCH', path, { body, ifMatch });
            showMessage('info', `Saved “${data.title}”.`);
            await panel.reload();
          } catch (error) {
            await panel.recover(error);
          }
        });
      },
    },
    h('div', { class: 'row' }, field('Title', title), field('Assignee', assignee)),
    field('Notes', notes),
    h('div', { class: 'row' }, save, cancel),
  );
  const showEditor = (shown: boolean): void => {
    editor.hidden = !shown;
    edit.setAttribute('aria-expanded', String(shown));
  };
  edit.addEventListener('click', () => showEditor(edit.getAttribute('aria-expanded') !== 'true'));
  cancel.addEventListener('click', () => {
    title.value = task.title;
    notes.value = task.notes;
    assignee.value = task.assigneeId ?? '';
    showEditor(false);
  });

  let armed = 0;
  remove.addEventListener('click', () => {
    if (Date.now() - armed > 5000) {
      armed = Date.now();
      remove.textContent = 'Click again to delete';
      window.setTimeout(() => (remove.textContent = 'Delete'), 5000);
      return;
    }
    clearMessage();
    void busy(remove, async () => {
      try {
        await ctx.api.call('DELETE', path, { ifMatch });
        showMessage('info', `Deleted “${task.title}”.`);
        await panel.reload();
      } catch (error) {
        await panel.recover(error);
      }
    });
  });

  return h('div', { class: 'task-actions' }, h('div', { class: 'row' }, edit, remove), editor);
}
