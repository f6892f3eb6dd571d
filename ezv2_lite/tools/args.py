"""Reading a command line: a config from `[--preset NAME] [--section.field VALUE ...]` with
one-line errors for bad input, and the small formatting helpers the commands share
(`ezv2-lite` in `cli.py`, `ezv2-lite sweep` in `sweep.py`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import tyro

from ..config import Config, ConfigError, validate
from ..presets import preset


def take_option(args: list[str], flag: str) -> tuple[str | None, list[str]]:
    """Remove `flag VALUE` (or `flag=VALUE`) from args; return VALUE (None if absent) and the rest."""
    rest, value = [], None
    i = 0
    while i < len(args):
        if args[i] == flag:
            if i + 1 >= len(args):
                raise ConfigError(f"{flag} needs a value")
            value, i = args[i + 1], i + 2
            continue
        if args[i].startswith(flag + "="):
            value = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return value, rest


DEFAULT_PRESET = "cartpole"


def split_preset(args: list[str]) -> tuple[Config, list[str]]:
    """Take `--preset NAME` out of `args`; return that preset (default: cartpole) and the rest."""
    name, rest = take_option(args, "--preset")
    return preset(name if name is not None else DEFAULT_PRESET), rest


def positive_int(text: str, flag: str, minimum: int = 1) -> int:
    """`text` as an integer of at least `minimum` (1, or 0 for a seed), else a one-line error."""
    kind = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{flag} must be {kind} (got {text!r})") from None
    if value < minimum:
        raise ConfigError(f"{flag} must be {kind} (got {value})")
    return value


def plural(n: int, noun: str) -> str:
    """`1 episode`, `2 episodes`: a count and its noun, plural unless it is one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    """Seconds for people: "45 s", "12 min", "2.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def number(x: float | np.floating, spec: str = ".2f") -> str:
    """`x` formatted by `spec`, without the minus sign of a value that shows as zero
    (-0.001 -> `0.00`, not `-0.00`)."""
    text = format(x, spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def config_from_args(
    args: list[str],
    prog: str = "ezv2-lite",
    description: str | None = None,
    shortcuts: tuple[str, ...] = (),
) -> Config:
    """A validated Config from `[--preset NAME] [--section.field VALUE ...]` (tyro overrides);
    `--help` shows the chosen preset's values. `shortcuts`: the command's own options (taken out
    of `args` before), offered with the config's flags when an option is misspelt."""
    base, rest = split_preset(args)
    check_options(rest, config_flags(base) | set(shortcuts))
    return validate(tyro.cli(Config, default=base, args=rest, prog=prog, description=description))


def config_flags(config: Any, prefix: str = "--") -> set[str]:
    """Every command-line flag of a config, as tyro spells them: `--seed`, `--optim.lr`,
    `--model.value-support.kind`, and `--section.no-name` for the booleans."""
    from dataclasses import fields, is_dataclass

    flags = set()
    for f in fields(config):
        name, value = f.name.replace("_", "-"), getattr(config, f.name)
        if is_dataclass(value):
            flags |= config_flags(value, f"{prefix}{name}.")
        else:
            flags.add(prefix + name)
            if isinstance(value, bool):
                flags.add(f"{prefix}no-{name}")
    return flags


def check_options(args: list[str], known: set[str]) -> None:
    """A one-line error for the first option that is not a known flag, with the nearest ones."""
    import difflib

    for arg in args:
        flag = arg.split("=", 1)[0]
        if (
            not flag.startswith("--")
            or "--" + flag[2:].replace("_", "-") in known
            or flag in ("--help", "--preset")
        ):
            continue  # (tyro reads --optim.state_gradient as --optim.state-gradient)
        near = difflib.get_close_matches(flag, sorted(known), n=3, cutoff=0.6)
        hint = f": did you mean {' or '.join(near)}?" if near else " (`--help` lists every option)"
        raise ConfigError(f"unrecognized option {flag}{hint}")
