"""Tasks in the web app, as the people of one project use them: the owner shares by
email (an unknown address gets the API's answer) and members are shown by email; an
editor adds a task and assigns it to a viewer chosen by email; the viewer ticks it
done but is offered no way to change it (and the API refuses a rename); a stale edit
gets the 412 message and a reloaded list; an editor demoted meanwhile gets the 403
message and a read-only list; the owner deletes the task.

Needs the tasks API (``/projects/{id}/tasks``), ``people`` in the project JSON and
``POST /projects/{id}/members`` (sharing by email)."""

from __future__ import annotations

import os
import secrets

import pytest
import requests
from playwright.sync_api import Locator, expect

from tests.e2e.conftest import DemoUser, OpenApp, Stack, Users, WebApp
from tests.integration.emulator import AuthEmulator, bearer

CAROL_EMAIL = "carol@example.com"
PROJECT = "Garden"
TASK = "Water the tomatoes"


@pytest.fixture
def carol(users: Users, project_id: str) -> DemoUser:
    """A fourth verified user, made after ``users`` emptied the emulators."""
    auth = AuthEmulator(os.environ["FIREBASE_AUTH_EMULATOR_HOST"], project_id)
    password = secrets.token_urlsafe(12)
    uid = auth.sign_up(CAROL_EMAIL, password).uid
    auth.set_email_verified(uid, True)
    return DemoUser(CAROL_EMAIL, password, uid)


def open_tasks(app: WebApp, project: str) -> Locator:
    """The project's task panel, opened with its "Tasks" button if it is closed."""
    card = app.project(project)
    toggle = card.get_by_role("button", name="Tasks", exact=True)
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    return card.get_by_role("region", name="Tasks")


def task_item(tasks: Locator, title: str) -> Locator:
    return tasks.get_by_role("listitem", name=title, exact=True)


def share(app: WebApp, project: str, who: str, role: str) -> None:
    form = app.manage(project).get_by_role("form", name="Share")
    form.get_by_label("Share with").fill(who)
    form.get_by_label("as").select_option(role)
    form.get_by_role("button", name="Share").click()


def edit_task(item: Locator, **fields: str) -> None:
    """Opens the task's editor, types ``title`` and/or ``notes``, and saves."""
    item.get_by_role("button", name="Edit").click()
    editor = item.get_by_role("form", name="Edit task")
    for label, value in fields.items():
        editor.get_by_label(label.capitalize()).fill(value)
    editor.get_by_role("button", name="Save").click()


def test_tasks_assigned_by_email_ticked_by_the_viewer(
    open_app: OpenApp, users: Users, carol: DemoUser, stack: Stack, project_id: str
) -> None:
    alice = open_app("alice")
    alice.sign_in(users.alice)
    alice.create_project(PROJECT, "Beds, seeds and watering")
    expect(alice.message).to_have_text(f"Created “{PROJECT}”.")

    # The owner shares by email; members are listed by email, never by bare uid.
    members = alice.project(PROJECT).get_by_role("list", name="Members")
    for email, role in ((users.bob.email, "editor"), (CAROL_EMAIL, "viewer")):
        share(alice, PROJECT, email, role)
        expect(alice.message).to_have_text(f"Shared “{PROJECT}” with {email} as {role}.")
        expect(members).to_contain_text(email)  # the list was reloaded
    expect(members).to_contain_text(f"{users.alice.email} (you)")
    for uid in (users.alice.uid, users.bob.uid, carol.uid):
        expect(members).not_to_contain_text(uid)
    share(alice, PROJECT, "nobody@example.com", "viewer")
    expect(alice.message).to_contain_text(
        "There is no user with that email address. [404 user_not_found"
    )

    # The editor adds a task and assigns it to the viewer, chosen by email.
    bob = open_app("bob")
    bob.sign_in(users.bob)
    bob_tasks = open_tasks(bob, PROJECT)
    expect(bob_tasks).to_contain_text("No open tasks.")
    new = bob_tasks.get_by_role("form", name="New task")
    new.get_by_label("Title").fill(TASK)
    new.get_by_label("Notes").fill("Twice a week, in the evening")
    new.get_by_label("Assignee").select_option(label=CAROL_EMAIL)
    new.get_by_role("button", name="Add task").click()
    expect(bob.message).to_have_text(f"Added “{TASK}”, assigned to {CAROL_EMAIL}.")
    item = task_item(bob_tasks, TASK)
    expect(item).to_contain_text(f"Assigned to {CAROL_EMAIL}")
    expect(item).to_contain_text("added by you")
    expect(item).not_to_contain_text(carol.uid)

    # The viewer may tick it, and is offered nothing else.
    viewer = open_app("carol")
    viewer.sign_in(carol)
    expect(viewer.project(PROJECT).locator("header .badge")).to_have_text("viewer")
    tasks = open_tasks(viewer, PROJECT)
    item = task_item(tasks, TASK)
    expect(item).to_contain_text("Assigned to you")
    expect(item).to_contain_text(f"added by {users.bob.email}")
    expect(item).to_contain_text("Twice a week, in the evening")
    expect(tasks.get_by_role("form", name="New task")).to_have_count(0)
    expect(item.get_by_role("button", name="Edit")).to_have_count(0)
    expect(item.get_by_role("button", name="Delete")).to_have_count(0)
    item.get_by_role("checkbox", name="Done").click()
    expect(viewer.message).to_have_text(f"Marked “{TASK}” done.")
    expect(tasks).to_contain_text("No open tasks.")  # the default filter shows open tasks
    tasks.get_by_label("Show").select_option("done")
    expect(task_item(tasks, TASK).get_by_role("checkbox", name="Done")).to_be_checked()

    # Nor would the API let her rename it.
    project = viewer.project(PROJECT).get_attribute("data-project-id")
    task = task_item(tasks, TASK).get_attribute("data-task-id")
    token = AuthEmulator(os.environ["FIREBASE_AUTH_EMULATOR_HOST"], project_id).sign_in(
        carol.email, carol.password
    )
    response = requests.patch(
        f"{stack.api_url}/projects/{project}/tasks/{task}",
        json={"title": "Carol's title"},
        headers=bearer(token),
        timeout=10,
    )
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")

    # 412: the editor's list still shows the task open; his edit is refused, the list reloads.
    edit_task(task_item(bob_tasks, TASK), title=f"{TASK} daily")
    expect(bob.message).to_contain_text("Someone else changed this task after you loaded it")
    expect(bob.message).to_contain_text("[412 precondition_failed")
    expect(bob_tasks).to_contain_text("No open tasks.")
    bob_tasks.get_by_label("Show").select_option("done")
    edit_task(task_item(bob_tasks, TASK), title=f"{TASK} daily")
    expect(bob.message).to_have_text(f"Saved “{TASK} daily”.")
    renamed = task_item(bob_tasks, f"{TASK} daily")
    expect(renamed.get_by_role("checkbox", name="Done")).to_be_checked()

    # 403: the owner makes the editor a viewer (by uid) while his page still offers "Edit".
    share(alice, PROJECT, users.bob.uid, "viewer")
    expect(alice.message).to_have_text(f"Shared “{PROJECT}” with {users.bob.email} as viewer.")
    edit_task(renamed, notes="Every evening")
    expect(bob.message).to_contain_text("You are not allowed to do that. [403 forbidden")
    expect(bob.project(PROJECT).locator("header .badge")).to_have_text("viewer")  # reloaded
    bob_tasks = open_tasks(bob, PROJECT)  # reopened by the reload, still on "Done"
    renamed = task_item(bob_tasks, f"{TASK} daily")
    expect(renamed).to_contain_text("Twice a week, in the evening")
    expect(renamed.get_by_role("button", name="Edit")).to_have_count(0)
    expect(renamed.get_by_role("checkbox", name="Done")).to_be_disabled()

    # The owner deletes it.
    alice_tasks = open_tasks(alice, PROJECT)
    alice_tasks.get_by_label("Show").select_option("all")
    item = task_item(alice_tasks, f"{TASK} daily")
    item.get_by_role("button", name="Delete").click()
    item.get_by_role("button", name="Click again to delete").click()
    expect(alice.message).to_have_text(f"Deleted “{TASK} daily”.")
    expect(alice_tasks).to_contain_text("No tasks yet.")
