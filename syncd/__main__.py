"""`python -m syncd`: the same command line as the `syncd` script."""

from __future__ import annotations

from syncd.cli import main

main(prog_name="syncd")
