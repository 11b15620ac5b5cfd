// The signed-in user's projects: create, rename, share, transfer, delete; each card
// also opens the project's tasks (views/tasks.ts).

import { ApiError, etagOf, projectPath, type Page, type Person, type Project } from '../api';
import type { Ctx } from '../context';
import { clearMessage, showMessage } from '../flash';
import { busy, field, formatTime, h } from '../dom';
import { peopleOf, personName } from '../people';
import { tasksPanel, type OpenTaskPanels } from './tasks';

type Access = 'owner' | 'editor' | 'viewer' | 'admin' | 'auditor';

function accessOf(ctx: Ctx, project: Project): Access {
  const { uid } = ctx.me;
  if (project.ownerId === uid) return 'owner';
  if (project.editors.includes(uid)) return 'editor';
  if (project.viewers.includes(uid)) return 'viewer';
  return ctx.session.hasRole('admin') ? 'admin' : 'auditor';
}

export function projectsView(ctx: Ctx): HTMLElement {
  const list = h('div', { class: 'projects' });
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  let items: Project[] = [];
  let nextCursor: string | null = null;
  const openTasks: OpenTaskPanels = new Map();

  const show = (): void => {
    list.replaceChildren(
      ...(items.length
        ? items.map((project) => projectCard(ctx, project, reload, openTasks))
        : [h('p', { class: 'muted' }, 'No projects yet. Create one above, or ask someone to share one with you.')]),
    );
    more.hidden = !nextCursor;
  };

  // Loads can overlap (the first page still coming while a create reloads): only the
  // latest one may show, or a slow, older answer would put back a list from before.
  let latest = 0;

  async function load(cursor: string | null): Promise<void> {
    const query = cursor ? `?limit=20&cursor=${encodeURIComponent(cursor)}` : '?limit=20';
    const mine = ++latest;
    const { data } = await ctx.api.call<Page<Project>>('GET', `/projects${query}`);
    if (mine !== latest) return;
    items = cursor ? [...items, ...data.items] : data.items;
    nextCursor = data.nextCursor;
    show();
  }

  async function reload(): Promise<void> {
    await load(null).catch((error) => ctx.report(error));
  }

  more.addEventListener('click', () => void busy(more, () => load(nextCursor).catch((error) => ctx.report(error))));

  const name = h('input', { name: 'name', required: true, maxLength: 200, autocomplete: 'off' });
  const description = h('input', { name: 'description', maxLength: 5000, autocomplete: 'off' });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create project');
  const form = h(
    'form',
    {
      class: 'card create',
      'aria-label': 'New project',
      onsubmit: (event: Event) => {
        event.preventDefault();
        clearMessage();
        void busy(create, async () => {
          try {
            const body = { name: name.value, description: description.value };
            const { data } = await ctx.api.call<Project>('POST', '/projects', { body });
            showMessage('info', `Created “${data.name}”.`);
            form.reset();
            await reload();
          } catch (error) {
            await ctx.report(error);
          }
        });
      },
    },
    h('h2', {}, 'New project'),
    h('div', { class: 'row' }, field('Name', name), field('Description', description), create),
  );

  list.append(h('p', { class: 'muted' }, 'Loading projects…'));
  void reload();
  return h('section', { 'aria-label': 'Projects' }, form, h('h2', {}, 'Your projects'), list, more);
}

function projectCard(ctx: Ctx, project: Project, reload: () => Promise<void>, openTasks: OpenTaskPanels): HTMLElement {
  const access = accessOf(ctx, project);
  const canEdit = access === 'owner' || access === 'editor' || access === 'admin';
  const canManage = access === 'owner' || access === 'admin';
  const people = peopleOf(ctx, project);

  /**
   * Runs one change; on 403/404/412 the list is reloaded, since it is out of date (an
   * unknown email is not: the form stays open to correct it).
   */
  const change = (button: HTMLButtonElement, action: () => Promise<string>): void => {
    clearMessage();
    void busy(button, async () => {
      try {
        showMessage('info', await action());
        await reload();
      } catch (error) {
        await ctx.report(error);
        const stale = error instanceof ApiError && [403, 404, 412].includes(error.status) && error.code !== 'user_not_found';
        if (stale) await reload();
      }
    });
  };
  const path = projectPath(project.id);
  const ifMatch = etagOf(project);

  const memberList = h(
    'ul',
    { class: 'members', 'aria-label': 'Members' },
    ...people.map((person) => {
      const { uid, role } = person;
      const self = uid === ctx.me.uid;
      const name = h('span', { title: `uid ${uid}` }, personName(person), self ? ' (you)' : null);
      if (role === 'owner') return h('li', {}, name, h('span', { class: 'badge' }, role));
      const remove = h('button', { type: 'button', class: 'link' }, self ? 'Leave' : 'Remove');
      remove.addEventListener('click', () =>
        change(remove, async () => {
          await ctx.api.call('DELETE', `${path}/members/${encodeURIComponent(uid)}`, { ifMatch });
          return self ? `You left “${project.name}”.` : `Removed ${personName(person)} from “${project.name}”.`;
        }),
      );
      return h('li', {}, name, h('span', { class: 'badge' }, role), canManage || self ? remove : null);
    }),
  );

  const actions = h('div', { class: 'actions' });
  if (canEdit) {
    const newName = h('input', { name: 'name', value: project.name, required: true, maxLength: 200 });
    const save = h('button', { type: 'submit' }, 'Rename');
    actions.append(
      h(
        'form',
        {
          'aria-label': 'Rename',
          onsubmit: (event: Event) => {
            event.preventDefault();
            change(save, async () => {
              await ctx.api.call('PATCH', path, { body: { name: newName.value }, ifMatch });
              return `Renamed “${project.name}” to “${newName.value.trim()}”.`;
            });
          },
        },
        field('New name', newName),
        save,
      ),
    );
  }
  if (canManage) {
    const who = h('input', { name: 'member', required: true, autocomplete: 'off', placeholder: 'user id or email' });
    const role = h('select', { name: 'role' }, h('option', { value: 'editor' }, 'editor'), h('option', { value: 'viewer' }, 'viewer'));
    const share = h('button', { type: 'submit' }, 'Share');
    const newOwner = h('input', { name: 'owner', required: true, autocomplete: 'off', placeholder: 'user id or email' });
    const transfer = h('button', { type: 'submit' }, 'Transfer');
    const remove = h('button', { type: 'button', class: 'danger' }, 'Delete project');
    let armed = 0;
    remove.addEventListener('click', () => {
      if (Date.now() - armed > 5000) {
        armed = Date.now();
        remove.textContent = 'Click again to delete';
        window.setTimeout(() => (remove.textContent = 'Delete project'), 5000);
        return;
      }
      change(remove, async () => {
        await ctx.api.call('DELETE', path, { ifMatch });
        return `Deleted “${project.name}”.`;
      });
    });
    actions.append(
      h(
        'form',
        {
          'aria-label': 'Share',
          onsubmit: (event: Event) => {
            event.preventDefault();
            change(share, async () => {
              const name = await shareWith(ctx, project, people, who.value, role.value);
              return `Shared “${project.name}” with ${name} as ${role.value}.`;
            });
          },
        },
        field('Share with', who),
        field('as', role),
        share,
      ),
      h(
        'form',
        {
          'aria-label': 'Transfer',
          onsubmit: (event: Event) => {
            event.preventDefault();
            change(transfer, async () => {
              const uid = await ctx.resolveUser(newOwner.value, people);
              await ctx.api.call('POST', `${path}/transfer`, { body: { ownerId: uid }, ifMatch });
              return `Transferred “${project.name}” to ${ctx.label(uid)}; you stay on it as an editor.`;
            });
          },
        },
        field('New owner', newOwner),
        transfer,
      ),
      h('div', {}, remove),
    );
  }

  return h(
    'article',
    { class: 'card project', 'data-testid': 'project', 'data-project-id': project.id, 'aria-label': project.name },
    h('header', {}, h('h3', {}, project.name), h('span', { class: `badge access-${access}` }, access)),
    project.description ? h('p', {}, project.description) : null,
    memberList,
    h('p', { class: 'muted small' }, `Updated ${formatTime(project.updatedAt)} · version ${project.version} · id ${project.id}`),
    tasksPanel(
      ctx,
      project,
      people,
      // An admin may edit tasks even where they are also a viewer.
      { canEdit: canEdit || ctx.session.hasRole('admin'), isMember: access !== 'admin' && access !== 'auditor' },
      openTasks,
      reload,
    ),
    actions.childElementCount
      ? h('details', {}, h('summary', {}, canManage ? 'Rename, share, transfer or delete' : 'Rename'), actions)
      : null,
  );
}

/**
 * Adds or changes a member; says who, by name. The email of someone not yet a member
 * goes to `POST .../members`, which looks the address up (404 user_not_found when
 * nobody has it), for owners and admins alike. A member's email (a role change) and
 * a uid go to `PUT .../members/{uid}`.
 */
async function shareWith(ctx: Ctx, project: Project, people: Person[], typed: string, role: string): Promise<string> {
  const path = projectPath(project.id);
  const ifMatch = etagOf(project);
  const value = typed.trim();
  const sameEmail = (person: Person): boolean => person.email?.toLowerCase() === value.toLowerCase();
  if (value.includes('@') && !people.some(sameEmail)) {
    const { data } = await ctx.api.call<Project>('POST', `${path}/members`, { body: { email: value, role }, ifMatch });
    const added = data.people?.find(sameEmail);
    return added ? personName(added) : value;
  }
  const uid = await ctx.resolveUser(value, people);
  const { data } = await ctx.api.call<Project>('PUT', `${path}/members/${encodeURIComponent(uid)}`, { body: { role }, ifMatch });
  const added = peopleOf(ctx, data).find((person) => person.uid === uid);
  return added ? personName(added) : ctx.label(uid);
}
