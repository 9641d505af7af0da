"""How `--help` names things: flags take no value, so they show no `<bool>`; arguments read
as `MODEL` in usage lines, the usual spelling, not typer's `{model}`.

typer builds every parameter itself (no hook for a parameter class), but it hands the
finished command tree to the root group's class: that is where the tree is tidied, once
per run, before any help is drawn."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption


class _UsageNamedArgument(TyperArgument):
    """An argument whose usage name is bare (`MODEL`, `[ID]...`): typer wraps a required
    one in braces, which click uses for a choice, so `{model}` read as a set to pick from."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return f"{name}..." if self.nargs != 1 else name


def _tidy_command(command: Any, name: str) -> None:
    for param in command.params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""  # typer draws the metavar in place of the type, so: nothing
        elif isinstance(param, TyperArgument):
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()
            # Same fields, one method more: typer made the object, so its class is swapped.
            param.__class__ = _UsageNamedArgument
    # The help option is made on first use and cached; making it now, with the default
    # names (ktrdr sets no other), lets it be tidied like the rest.
    help_option = command.get_help_option(typer.Context(command, info_name=name))
    if help_option is not None:
        help_option.metavar = ""
    if isinstance(command, TyperGroup):
        for sub_name, sub in command.commands.items():
            _tidy_command(sub, sub_name)


class TidyHelpGroup(TyperGroup):
    """The root group: tidies the whole command tree as typer hands it over."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_command(self, self.name or "ktrdr")
