// Project members as people: shown by email or display name, never by a bare uid
// (the uid stays in the tooltip, for support).

import type { MemberRole, Person, Project } from './api';
import type { Ctx } from './context';
import { h } from './dom';

const ROLE_ORDER: Record<MemberRole, number> = { owner: 0, editor: 1, viewer: 2 };

/**
 * The project's members, owner first. From the project's `people`; a backend that does
 * not send them yet gets them rebuilt from the id lists, named by what this tab has met.
 */
export function peopleOf(ctx: Ctx, project: Project): Person[] {
  if (project.people) {
    for (const person of project.people) ctx.remember(person);
    return [...project.people].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]);
  }
  // Without names from the server, a uid not met in this tab is all there is to show.
  const rebuilt = (uid: string, role: MemberRole): Person => {
    const known = uid === ctx.me.uid ? ctx.me.email : ctx.knownName(uid);
    return { uid, role, email: known, displayName: known ? null : `uid ${uid}` };
  };
  return [
    rebuilt(project.ownerId, 'owner'),
    ...project.editors.map((uid) => rebuilt(uid, 'editor')),
    ...project.viewers.map((uid) => rebuilt(uid, 'viewer')),
  ];
}

/** "Name (email)", the email, the name, or a description: never the bare uid. */
export function personName(person: Pick<Person, 'email' | 'displayName'>): string {
  if (person.displayName && person.email) return `${person.displayName} (${person.email})`;
  return person.email ?? person.displayName ?? 'a user without an email address';
}

/** `uid` by name: "you", a member's name, a name met elsewhere, or "a former member". */
export function nameOf(ctx: Ctx, people: readonly Person[], uid: string): string {
  if (uid === ctx.me.uid) return 'you';
  const person = people.find((candidate) => candidate.uid === uid);
  if (person) return personName(person);
  return ctx.knownName(uid) ?? 'a former member';
}

/** `nameOf` in a span whose tooltip has the uid. */
export function userSpan(ctx: Ctx, people: readonly Person[], uid: string): HTMLElement {
  return h('span', { class: 'person', title: `uid ${uid}` }, nameOf(ctx, people, uid));
}
