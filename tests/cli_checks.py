"""The check every bad-input test makes of a refused command: exit status 2, no traceback, exactly one line
``error: ...`` on stderr holding every expected fragment, not absurdly long, no value shown unshortened."""

from __future__ import annotations

import re


def one_error_line(code: int, stdout: str, stderr: str, fragments: list[str]) -> str:
    """The single ``error:`` line of a refused run, holding every fragment (assertions otherwise)."""
    assert code == 2, (code, stdout[-500:], stderr[-2000:])
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr[-2000:]
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-2000:]
    assert len(lines[0]) < 3000, f"an error line of {len(lines[0])} characters"
    assert re.search(r"\d{301}", lines[0]) is None, "a value shown unshortened"
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def refused(capsys, argv: list[str], *fragments: str) -> str:
    """Run ``simtrain ARGV`` in process: refused as :func:`one_error_line` checks, holding every fragment."""
    from simtrain.cli import main

    code = main(list(argv))
    stdout, stderr = capsys.readouterr()
    return one_error_line(code, stdout, stderr, list(fragments))
