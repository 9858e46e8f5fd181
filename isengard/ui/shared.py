"""What the tabs share: the tab bar, where the person is (tab and character, kept in the browser so a
reload returns there), and the ways into each tab ("Train Ada's likeness" opens Training on Ada).

A tab registers an `Arrival`: the components it updates when someone is sent to it with a character, and
the function that makes those updates. Buttons that move the person along are wired after every tab is
built (`later`), since they reach into another tab's components.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import gradio as gr

TABS = ("characters", "training", "image", "video")
TAB_LABELS = {"Characters": "characters", "Training": "training", "Image Gen": "image", "Video": "video"}
START = {"tab": "characters", "character": None}


@dataclass
class Arrival:
    outputs: list
    update: Callable[..., dict]  # (character id or None, **what the sender passes) -> component updates


@dataclass
class Shared:
    tabs: gr.Tabs | None = None
    where: gr.BrowserState | None = None
    arrivals: dict[str, Arrival] = field(default_factory=dict)
    _later: list[Callable[[], None]] = field(default_factory=list)

    def later(self, wire: Callable[[], None]) -> None:
        self._later.append(wire)

    def wire_later(self) -> None:
        for wire in self._later:
            wire()
        self._later.clear()

    def go_outputs(self, tab: str) -> list:
        return [self.tabs, self.where, *self.arrivals[tab].outputs]

    def go(self, tab: str, character_id: int | None, where: dict | None = None, **extra: Any) -> dict:
        """Updates that open `tab` on the character (for an event whose outputs are `go_outputs(tab)`)."""
        place = dict(where or START) | {"tab": tab, "character": character_id}
        return {self.tabs: gr.Tabs(selected=tab), self.where: place} | self.arrivals[tab].update(
            character_id, **extra
        )


def browser_state(ctx) -> gr.BrowserState:
    """Where the person is, in the browser's storage. The secret is derived from this studio's data folder
    and install, so the stored place survives a restart (it holds a tab name and a character number)."""
    secret = hashlib.sha256(f"isengard-place:{ctx.paths.data.resolve()}".encode()).hexdigest()
    return gr.BrowserState(dict(START), storage_key="isengard-place", secret=secret)


def remembered(where: dict | None, known_ids: list[int]) -> int | None:
    """The character the browser remembers, if it still exists; else the first one; else None."""
    chosen = (where or {}).get("character")
    if chosen in known_ids:
        return chosen
    return known_ids[0] if known_ids else None


def remember_tab(where: dict | None, evt: gr.SelectData) -> dict:
    """The tab a person opened, kept with the place (a reload returns to it)."""
    chosen = TAB_LABELS.get(str(evt.value))
    if chosen is None and isinstance(evt.index, int) and evt.index < len(TABS):
        chosen = TABS[evt.index]
    return dict(where or {}) | {"tab": chosen or "characters"}


class Parts(SimpleNamespace):
    """A tab's components, built by its layout module; `parts("a b c")` hands several to its handlers."""

    def parts(self, names: str) -> tuple:
        return tuple(getattr(self, name) for name in names.split())
