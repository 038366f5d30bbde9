"""The unmodified Open WebUI 0.12.4 web app on Chronicle, as a person uses it, in a real browser.

Playwright drives Debian's headless Chromium against a real `chronicle serve` with the web app
installed (`chronicle frontend install`) and the test language model (tests/llm_server.py) as its
OpenAI connection. Each step below is one thing a person does; the recorder files every request
the page makes and every console error under the step that was running. A step that fails is
recorded (with a screenshot) and the journey goes on, so one run shows every broken step; the
test then fails with the report: per step, its own error and each failed request (method, path,
status) and console error that Open WebUI itself does not also produce.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.webapp.browser import (
    Allowed,
    Recorder,
    Server,
    browser_page,
    chronicle_server,
    language_model,
    need_browser,
)

pytestmark = [pytest.mark.slow, pytest.mark.journey, pytest.mark.timeout(420)]

PASSWORD = "correct horse battery staple"

# What Open WebUI 0.12.4 itself also does on the same journey, each with the reason; nothing else
# may fail. Empty: nothing is excused yet. (The browser's own "Failed to load resource" line is
# not counted: the failed request it repeats is.)
ALLOWED_REQUESTS: list[Allowed] = []
ALLOWED_CONSOLE: list[Allowed] = []


@dataclass
class Journey:
    """What the steps share: the page, the server, and what earlier steps made."""

    page: Any
    server: Server
    shots: Path
    admin_email: str = field(default_factory=lambda: f"ada-{uuid.uuid4().hex[:6]}@example.com")
    chat_id: str | None = None
    chat_title: str = "Journey chat"
    folder: str = "Journey folder"
    tag: str = "journeytag"
    prompt_command: str = "journey-greeting"
    seeded: list[str] = field(default_factory=list)  # what had to be made through the API
    whats_new_again: int = 0  # the first visit's "What's New" dialog shown again later

    def go(self, path: str) -> None:
        self.page.goto(path)
        self.page.wait_for_load_state("networkidle")
        whats_new = self.page.get_by_role("button", name="Okay, Let's Go!")
        if whats_new.count() and whats_new.first.is_visible():
            self.whats_new_again += 1
            whats_new.first.click()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """A request as the signed-in page makes it (its token), for seeding only."""
        return self.page.evaluate(
            """async ([method, path, body]) => {
                const r = await fetch(path, {method, headers: {'Content-Type': 'application/json',
                    Authorization: 'Bearer ' + localStorage.token},
                    body: body === null ? undefined : JSON.stringify(body)});
                return {status: r.status, body: await r.text()};
            }""", [method, path, body])

    def answered(self, method: str, path: str, action: Callable[[], None],
                 timeout: float = 10_000) -> Any:
        """Do `action`, and fail at once, naming it, when the request it makes is not answered
        with success (rather than waiting for a screen that will never come)."""
        pattern = re.compile(path)
        with self.page.expect_response(lambda r: r.request.method == method and bool(
                pattern.search(urlsplit(r.url).path)), timeout=timeout) as info:
            action()
        response = info.value
        assert response.status < 400, f"{method} {urlsplit(response.url).path} answered {response.status}"
        return response

    def toast_errors(self) -> list[str]:
        return self.page.locator("[data-sonner-toast][data-type='error']").all_inner_texts()

    def no_error_toast(self) -> None:
        errors = self.toast_errors()
        assert not errors, f"error toast: {errors}"


def expect_visible(locator: Any, timeout: float = 8_000, what: str = "") -> None:
    try:
        locator.first.wait_for(state="visible", timeout=timeout)
    except Exception as error:
        if not what:
            raise
        raise AssertionError(f"{what} did not appear within {timeout / 1000:.0f}s") from error


def dismiss_changelog(j: Journey) -> None:
    """The "What's New" dialog of a first visit (the app shows it for every new version)."""
    button = j.page.get_by_role("button", name="Okay, Let's Go!")
    try:
        button.wait_for(state="visible", timeout=2_500)
        button.click()
    except Exception:  # noqa: BLE001 - not shown this time
        pass


def open_sidebar(j: Journey) -> None:
    toggle = j.page.get_by_role("button", name="Open Sidebar")
    if toggle.count() and toggle.first.is_visible():
        toggle.first.click()


def sidebar_chat(j: Journey, title: str) -> Any:
    open_sidebar(j)
    return j.page.locator("#sidebar").get_by_text(title, exact=True)


def chat_menu(j: Journey, title: str) -> None:
    """The ⋯ menu of a chat in the sidebar."""
    item = sidebar_chat(j, title).first
    item.hover()
    row = item.locator("xpath=ancestor::*[.//button[@aria-label='Chat Menu']][1]")
    row.get_by_role("button", name="Chat Menu").first.click()


# -- the steps --------------------------------------------------------------------------------------
def sign_up_first_user_is_admin(j: Journey) -> None:
    j.go("/auth")
    started = j.page.get_by_text("Get started")
    if started.count():
        started.first.click()
    j.page.fill("#name", "Ada Admin")
    j.page.fill("#email", j.admin_email)
    j.page.fill("#password", PASSWORD)
    j.page.get_by_role("button", name="Create Admin Account").click()
    j.page.wait_for_url(re.compile(r"/$"), timeout=15_000)
    dismiss_changelog(j)
    expect_visible(j.page.locator("#chat-input"))
    user = j.api("GET", "/api/v1/auths/", None)
    assert user["status"] == 200 and json.loads(user["body"])["role"] == "admin", user


def admin_adds_a_user(j: Journey) -> None:
    j.go("/admin/users/overview")
    j.page.get_by_role("button", name="Add User").click()
    dialog = j.page.get_by_role("dialog")
    dialog.get_by_placeholder("Enter Your Full Name").fill("Bo User")
    dialog.get_by_placeholder("Enter Your Email").fill(f"bo-{uuid.uuid4().hex[:6]}@example.com")
    dialog.get_by_placeholder("Enter Your Password").fill(PASSWORD)
    j.answered("POST", r"^/api/v1/auths/add$", dialog.get_by_role("button", name="Save").click)
    expect_visible(j.page.get_by_text("Bo User"))
    j.no_error_toast()


def admin_adds_a_group(j: Journey) -> None:
    j.answered("GET", r"^/api/v1/groups/?$", lambda: j.go("/admin/users/groups"))
    j.page.get_by_role("button", name="New Group").click()
    dialog = j.page.get_by_role("dialog")
    dialog.get_by_placeholder("Group Name").fill("Journey group")
    dialog.get_by_placeholder("Group Description").fill("made by the journey")
    dialog.get_by_role("button", name="Save").click()
    expect_visible(j.page.get_by_text("Journey group"))
    j.no_error_toast()


def connection_models_show_in_the_picker(j: Journey) -> None:
    j.go("/")
    dismiss_changelog(j)
    j.page.get_by_role("button", name=re.compile("Select a model|echo")).first.click()
    options = j.page.locator("#model-selector-list [role=option]")
    expect_visible(options)
    values = {options.nth(i).get_attribute("data-value") for i in range(options.count())}
    assert {"echo", "inspect"} <= values, values
    j.page.locator("#model-selector-list [data-value='echo']").click()


def new_chat_gets_a_streamed_reply(j: Journey) -> None:
    j.go("/")
    j.page.locator("#chat-input").click()
    j.page.keyboard.type("hello from the journey")
    response = j.answered("POST", r"^/api/chat/completions$", lambda: j.page.keyboard.press("Enter"))
    # A new chat: the app sends no chat_id (parent_id null and the user message); Open WebUI
    # creates the chat and answers {status, task_ids, chat_id} at once, the reply comes as events.
    kind = response.headers.get("content-type", "")
    assert kind.startswith("application/json"), (
        f"POST /api/chat/completions of a new chat answered {kind}, not the task JSON with chat_id")
    expect_visible(j.page.get_by_text("You said: hello from the journey"), timeout=15_000)
    j.page.wait_for_url(re.compile(r"/c/[0-9a-f-]+"), timeout=10_000)
    j.chat_id = j.page.url.rsplit("/c/", 1)[1]
    j.no_error_toast()


def seed_a_chat_if_the_app_made_none(j: Journey) -> None:
    """Not a step of the person's: when the app could not create its chat, one made through the
    API lets the later chat steps still be tried (listed as seeded in the report)."""
    if j.chat_id:
        return
    question, answer = str(uuid.uuid4()), str(uuid.uuid4())
    messages = {
        question: {"id": question, "parentId": None, "childrenIds": [answer], "role": "user",
                   "content": "hello from the journey", "timestamp": int(time.time())},
        answer: {"id": answer, "parentId": question, "childrenIds": [], "role": "assistant",
                 "content": "You said: hello from the journey", "model": "echo", "done": True,
                 "timestamp": int(time.time())}}
    made = j.api("POST", "/api/v1/chats/new", {"chat": {
        "title": "New Chat", "models": ["echo"], "history": {"messages": messages, "currentId": answer},
        "messages": list(messages.values())}})
    assert made["status"] == 200, made
    j.chat_id = json.loads(made["body"])["id"]
    j.seeded.append("chat")
    j.go(f"/c/{j.chat_id}")


def rename_the_chat(j: Journey) -> None:
    j.go(f"/c/{j.chat_id}")
    current = j.page.locator(f"#sidebar a[href='/c/{j.chat_id}']")
    open_sidebar(j)
    expect_visible(current)
    current.first.dblclick()
    field_ = j.page.locator("#sidebar input").first
    field_.fill(j.chat_title)
    field_.press("Enter")
    expect_visible(sidebar_chat(j, j.chat_title))
    j.no_error_toast()


def pin_the_chat(j: Journey) -> None:
    chat_menu(j, j.chat_title)
    j.page.get_by_role("menuitem", name="Pin").click()
    expect_visible(j.page.locator("#sidebar").get_by_text("Pinned"))
    j.no_error_toast()


def move_the_chat_to_a_folder(j: Journey) -> None:
    open_sidebar(j)
    j.page.locator("#sidebar").get_by_role("button", name="New Folder").click()
    dialog = j.page.get_by_role("dialog")
    dialog.get_by_placeholder("Enter folder name").fill(j.folder)
    j.answered("POST", r"^/api/v1/folders/?$", dialog.get_by_role("button", name="Save").click)
    expect_visible(sidebar_chat(j, j.folder))
    chat_menu(j, j.chat_title)
    j.page.get_by_role("menuitem", name="Move").hover()
    j.answered("POST", rf"^/api/v1/chats/{j.chat_id}/folder$",
               j.page.get_by_role("menuitem", name=j.folder).click)
    folder = j.api("GET", f"/api/v1/chats/{j.chat_id}", None)
    assert json.loads(folder["body"]).get("folder_id"), folder
    j.no_error_toast()


def tag_the_chat(j: Journey) -> None:
    j.go(f"/c/{j.chat_id}")
    j.page.get_by_role("button", name="Chat actions").click()
    tag = j.page.get_by_placeholder("Add a tag...")
    tag.fill(j.tag)
    j.answered("POST", rf"^/api/v1/chats/{j.chat_id}/tags$", lambda: tag.press("Enter"))
    j.page.keyboard.press("Escape")
    tags = j.api("GET", f"/api/v1/chats/{j.chat_id}/tags", None)
    assert tags["status"] == 200 and j.tag in tags["body"], tags
    j.no_error_toast()


def search_finds_the_chat(j: Journey) -> None:
    j.go("/")
    j.page.keyboard.press("Control+k")
    box = j.page.get_by_label("Search your workspace")
    j.answered("GET", r"^/api/v1/search/?$", lambda: box.fill(j.chat_title.split()[0]))
    expect_visible(j.page.locator("#workspace-search-results").get_by_text(j.chat_title))
    assert not j.page.get_by_text("Search is unavailable").count()
    j.page.keyboard.press("Escape")


def archive_and_restore_the_chat(j: Journey) -> None:
    j.go(f"/c/{j.chat_id}")
    j.page.get_by_role("button", name="Chat actions").click()
    j.answered("POST", rf"^/api/v1/chats/{j.chat_id}/archive$",
               j.page.get_by_role("button", name="Archive", exact=True).click)
    open_settings(j, "Archived Chats")
    dialog = j.page.get_by_role("dialog")
    expect_visible(dialog.get_by_text(j.chat_title))
    j.answered("POST", rf"^/api/v1/chats/{j.chat_id}/archive$",
               dialog.get_by_role("button", name="Unarchive Chat").first.click)
    j.page.keyboard.press("Escape")
    chat = json.loads(j.api("GET", f"/api/v1/chats/{j.chat_id}", None)["body"])
    assert chat["archived"] is False, chat
    j.no_error_toast()


def user_menu(j: Journey) -> None:
    open_sidebar(j)
    j.page.locator("#sidebar").get_by_role("button", name=re.compile("Ada Admin")).last.click()


def open_settings(j: Journey, tab: str) -> None:
    user_menu(j)
    j.page.get_by_role("menuitem", name="Settings").first.click()
    j.page.get_by_role("dialog").get_by_role("tab", name=tab, exact=True).first.click()


def settings_save_without_an_error(j: Journey) -> None:
    j.go("/")
    open_settings(j, "General")
    dialog = j.page.get_by_role("dialog")
    j.answered("POST", r"^/api/v1/users/user/settings/update$",
               dialog.get_by_role("button", name="Save").click)
    # What else a person looks at (Personalization is memories: switched off, so not shown).
    for tab in ("Interface", "Account", "Data Controls"):
        dialog.get_by_role("tab", name=tab, exact=True).first.click()
        j.page.wait_for_load_state("networkidle")
    problems = [f"error toast: {text}" for text in j.toast_errors()]
    j.page.keyboard.press("Escape")
    # Saving one setting keeps the others (0.12.4 patches `ui` field by field): the "What's New"
    # dialog, dismissed once (ui.version), must not come back.
    before = j.whats_new_again
    j.go("/")
    if j.whats_new_again != before:
        problems.append("the What's New dialog came back after saving settings")
    assert not problems, problems


def workspace_model_preset(j: Journey) -> None:
    j.go("/workspace/models/create")
    expect_visible(j.page.get_by_placeholder("Model Name"), what="the model editor")
    j.page.get_by_placeholder("Model Name").first.fill("Journey preset")
    j.page.locator("#model-selector-workspace-base-model-button").click()
    j.page.locator("#model-selector-list [data-value='echo']").click()
    j.answered("POST", r"^/api/v1/models/create$",
               j.page.get_by_role("button", name="Save & Create").click)
    j.go("/workspace/models")
    expect_visible(j.page.get_by_text("Journey preset"), what="the preset in the Workspace Models list")
    j.no_error_toast()


def workspace_knowledge_file_processed(j: Journey) -> None:
    j.go("/workspace/knowledge/create")
    j.page.get_by_placeholder("Name your knowledge base").fill("Journey notes")
    j.page.get_by_placeholder("Describe your knowledge base and objectives").fill("for the journey")
    j.answered("POST", r"^/api/v1/knowledge/create$",
               j.page.get_by_role("button", name="Create Knowledge").click)
    j.page.wait_for_url(re.compile(r"/workspace/knowledge/[0-9a-f-]+"), timeout=10_000)
    upload = j.shots / "journey-notes.txt"
    upload.write_text("The journey's knowledge: lighthouses guide ships at night.\n")
    j.answered("POST", r"^/api/v1/files/?$",
               lambda: j.page.locator("input[type=file]").first.set_input_files(str(upload)))
    expect_visible(j.page.get_by_text("journey-notes.txt"), timeout=15_000)
    knowledge_id = j.page.url.rstrip("/").rsplit("/", 1)[1]
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        files = j.api("GET", f"/api/v1/knowledge/{knowledge_id}/files", None)
        if files["status"] != 200:
            raise AssertionError(f"GET /api/v1/knowledge/{{id}}/files answered {files['status']}")
        items = json.loads(files["body"]).get("items", [])
        status = [f.get("data", {}).get("status") for f in items]
        if status and all(s == "completed" for s in status):
            break
        j.page.wait_for_timeout(500)
    assert status and all(s == "completed" for s in status), status
    j.go(f"/workspace/knowledge/{knowledge_id}")
    expect_visible(j.page.get_by_text("journey-notes.txt"))
    assert not j.page.get_by_text("Not Found").count()
    j.no_error_toast()


def workspace_prompt_used_through_its_command(j: Journey) -> None:
    j.go("/workspace/prompts/create")
    j.page.get_by_label("Prompt Name").fill("Journey greeting")
    j.page.get_by_label("Command").fill(j.prompt_command)
    j.page.get_by_label("Prompt Content").fill("Greetings from the prompt library")
    j.answered("POST", r"^/api/v1/prompts/create$",
               j.page.get_by_role("button", name="Save & Create").click)
    j.go("/")
    j.page.locator("#chat-input").click()
    j.page.keyboard.type("/" + j.prompt_command[:8])
    j.page.get_by_role("button", name=re.compile(re.escape(j.prompt_command))).first.click()
    expect_visible(j.page.locator("#chat-input").get_by_text("Greetings from the prompt library"))
    j.no_error_toast()


def workspace_tool_from_the_template(j: Journey) -> None:
    j.go("/workspace/tools/create")
    expect_visible(j.page.get_by_placeholder("Tool Name"), what="the tool editor")
    j.page.get_by_placeholder("Tool Name").first.fill("Journey tool")
    j.page.get_by_placeholder("Tool Description").first.fill("made from the template")
    j.page.get_by_role("button", name="Save & Create").click()
    # Tools run code on the server: the app asks to confirm first.
    j.answered("POST", r"^/api/v1/tools/create$",
               j.page.get_by_role("button", name="Confirm", exact=True).click)
    j.go("/workspace/tools")
    expect_visible(j.page.get_by_text("Journey tool"), what="the tool in the Workspace Tools list")
    j.no_error_toast()


def sign_out_and_in(j: Journey) -> None:
    j.go("/")
    user_menu(j)
    j.page.get_by_role("menuitem", name="Sign Out").click()
    j.page.wait_for_url(re.compile(r"/auth"), timeout=10_000)
    j.page.fill("#email", j.admin_email)
    j.page.fill("#password", PASSWORD)
    j.page.get_by_role("button", name="Sign in").click()
    j.page.wait_for_url(re.compile(r"/$"), timeout=10_000)
    expect_visible(j.page.locator("#chat-input"))
    if j.chat_id:
        expect_visible(sidebar_chat(j, j.chat_title))


STEPS: list[Callable[[Journey], None]] = [
    sign_up_first_user_is_admin,
    admin_adds_a_user,
    admin_adds_a_group,
    connection_models_show_in_the_picker,
    new_chat_gets_a_streamed_reply,
    seed_a_chat_if_the_app_made_none,
    rename_the_chat,
    pin_the_chat,
    move_the_chat_to_a_folder,
    tag_the_chat,
    search_finds_the_chat,
    archive_and_restore_the_chat,
    settings_save_without_an_error,
    workspace_model_preset,
    workspace_knowledge_file_processed,
    workspace_prompt_used_through_its_command,
    workspace_tool_from_the_template,
    sign_out_and_in,
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    need_browser()
    with language_model() as url:
        yield url


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_journey(backend: str, upstream: str, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    started = time.monotonic()
    with chronicle_server(tmp_path, upstream, backend) as server:
        recorder = Recorder(server.url, ALLOWED_REQUESTS, ALLOWED_CONSOLE)
        with browser_page(server.url, recorder) as page:
            journey = Journey(page, server, shots)
            for step in STEPS:
                with recorder.step(step.__name__, page, shots):
                    step(journey)
        report = recorder.report()
        if journey.seeded:
            report += f"\nseeded through the API: {', '.join(journey.seeded)}"
        print(f"\njourney on {backend} ({time.monotonic() - started:.0f}s):\n{report}")
        failed = [s.name for s in recorder.steps if not s.ok]
        assert not failed, f"failed steps on {backend}: {failed}\n{report}\n{server.tail()}"
