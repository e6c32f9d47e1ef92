"""What a deploy file may run in the image: syncd with one of its real subcommands, celery
on our app, the Flower launcher, or a stdlib one-liner. Shared by the compose, Dockerfile
and Kubernetes checks, so "the command exists" means the same thing in all three."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from syncd.cli import main

PROGRAMS = ("syncd", "celery", "python")


def shell_command(line: str) -> list[str]:
    """The first command of a shell line, without its redirections."""
    words: list[str] = []
    for word in shlex.split(
        line.split(";", maxsplit=1)[0].split("&&", maxsplit=1)[0].split("|", maxsplit=1)[0]
    ):
        if word.startswith((">", "2>")):
            break
        words.append(word)
    return words


def check_program(where: str, command: Sequence[str]) -> None:
    argv = list(command)
    if argv[:2] == ["sh", "-c"]:  # a shell line: check the command it starts with
        argv = shell_command(argv[2])
    program = argv[0]
    assert program in PROGRAMS, (where, argv)
    if program == "syncd":
        sub = next((a for a in argv[1:] if not a.startswith("-")), None)
        if sub is None:
            assert set(argv[1:]) <= {"--help", "--version"}, (where, argv)
            return
        assert sub in main.commands, (where, argv)
        ctx = main.make_context("syncd", argv[1:], resilient_parsing=True)
        command_ = main.commands[sub]
        sub_args = argv[argv.index(sub) + 1 :]
        command_.make_context(sub, sub_args, parent=ctx)  # raises on an unknown option
    if program == "celery":
        assert argv[1:3] == ["-A", "celeryapp.app"], (where, argv)
        assert argv[3] in ("beat", "worker", "inspect", "flower"), (where, argv)
    if program == "python":
        assert argv[1:] == ["-m", "celeryapp.flower"] or argv[1] == "-c", (where, argv)
