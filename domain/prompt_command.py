"""One aggregate per prompt command: its deterministic id makes a command claimable only once.

Commands are unique across prompts (Open WebUI 0.12.4 keeps a unique index). A claim names the
prompt holding it; renaming a prompt's command or deleting the prompt releases it, and any
prompt may claim it again. Two prompts racing for one command both write the claim's next
version: one of them loses the race in the log, so uniqueness needs no read model.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


def command_id(command: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"chronicle:prompt-command:{command}")


class PromptCommand(Aggregate):
    @staticmethod
    def create_id(command: str, prompt_id: str) -> UUID:
        return command_id(command)

    @event("Claimed")
    def __init__(self, command: str, prompt_id: str):
        self.prompt_id = prompt_id  # the command itself is only in the (hashed) id

    @property
    def owner_id(self) -> None:
        return None  # system data: a prompt id, nothing personal

    def held_by_other(self, prompt_id: str) -> bool:
        return bool(self.prompt_id) and self.prompt_id != prompt_id

    def reclaim(self, prompt_id: str) -> None:
        if self.prompt_id != prompt_id:
            self._reclaimed(prompt_id)

    @event("Reclaimed")
    def _reclaimed(self, prompt_id: str) -> None:
        self.prompt_id = prompt_id

    def release(self, prompt_id: str) -> None:
        """Let go of the command, if `prompt_id` still holds it."""
        if self.prompt_id == prompt_id:
            self._released()

    @event("Released")
    def _released(self) -> None:
        self.prompt_id = ""
