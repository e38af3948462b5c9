"""The fenced code blocks of README.md and docs/*.md, with their doc-test directives.

A directive is an HTML comment (invisible once rendered) on the lines right before a
block's opening fence, or `<!-- doc-test (above): ... -->` right after its closing fence:

    <!-- doc-test: skip REASON -->            not run; the test lists it with REASON
    <!-- doc-test: setup NAME [ARG ...] -->   run tests/doc_setups.py's NAME first
    <!-- doc-test: replace "OLD" "NEW" -->    run the block with OLD replaced by NEW
    <!-- doc-test: env NAME=VALUE ... -->     extra environment variables
    <!-- doc-test: timeout SECONDS -->        instead of DEFAULT_TIMEOUT

Blocks tagged bash, sh or shell run with bash, python blocks with Python; every fence
carries a language, so that no command hides in an untagged block (text blocks are not run).
"""

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = {"bash": "shell", "sh": "shell", "shell": "shell", "python": "python", "text": None}
KINDS = ("skip", "setup", "replace", "env", "timeout")
DEFAULT_TIMEOUT = 300

FENCE = re.compile(r"^```(\S*)\s*$")
DIRECTIVE = re.compile(r"^<!-- doc-test( \(above\))?: (\w+)(.*?) -->\s*$")
MENTION = "<!-- doc-test"


class DirectiveError(ValueError):
    """A doc-test comment that cannot be applied as written."""


@dataclass(frozen=True)
class Directive:
    kind: str
    arguments: tuple
    text: str  # the argument text as written (a skip's reason)
    line: int


@dataclass(frozen=True)
class DocBlock:
    page: str  # relative to the project root
    line: int  # of the opening fence, 1-based
    index: int  # among the page's runnable blocks
    language: str  # "python" or "shell"
    source: str
    directives: tuple = field(default=())

    @property
    def id(self):
        return f"{self.page}:{self.line}"

    def _all(self, kind):
        return [d for d in self.directives if d.kind == kind]

    @property
    def skip_reason(self):
        skips = self._all("skip")
        return skips[0].text if skips else None

    @property
    def setups(self):
        return [d.arguments for d in self._all("setup")]

    @property
    def environment(self):
        return dict(argument.split("=", 1) for d in self._all("env") for argument in d.arguments)

    @property
    def timeout(self):
        timeouts = self._all("timeout")
        return float(timeouts[-1].arguments[0]) if timeouts else DEFAULT_TIMEOUT

    def source_as_run(self):
        """The source with the replace directives applied; each must find its text."""
        source = self.source
        for directive in self._all("replace"):
            old, new = directive.arguments
            if old not in source:
                raise DirectiveError(
                    f"{self.page}:{directive.line}: replace {old!r}: the block at line "
                    f"{self.line} does not contain it. Update the directive to the block's text."
                )
            source = source.replace(old, new)
        return source


def parse_directive(page, number, line):
    match = DIRECTIVE.match(line)
    if not match:
        raise DirectiveError(
            f"{page}:{number}: a doc-test comment must read `<!-- doc-test: KIND ARGS -->` on "
            f"one line. Received: {line.strip()!r}"
        )
    above, kind, text = bool(match.group(1)), match.group(2), match.group(3).strip()
    if kind not in KINDS:
        raise DirectiveError(
            f"{page}:{number}: unknown doc-test directive {kind!r}; use one of {KINDS}."
        )
    arguments = () if kind == "skip" else tuple(shlex.split(text))
    expected = {"replace": 2, "timeout": 1}.get(kind)
    if (kind == "skip" and not text) or (kind == "setup" and not arguments):
        raise DirectiveError(f"{page}:{number}: `{kind}` needs an argument: {line.strip()!r}")
    if expected is not None and len(arguments) != expected:
        raise DirectiveError(
            f"{page}:{number}: `{kind}` takes {expected} argument(s) (quote them). "
            f"Received: {line.strip()!r}"
        )
    if kind == "env" and not all("=" in argument for argument in arguments):
        raise DirectiveError(f"{page}:{number}: `env` takes NAME=VALUE pairs: {line.strip()!r}")
    return above, Directive(kind, arguments, text, number)


def parse_page(page, text):
    """The runnable blocks of one Markdown page (name `page`), in document order."""
    lines = text.splitlines()
    blocks, pending, used = [], [], set()
    number, last_closed = 0, None
    while number < len(lines):
        line = lines[number]
        if line.startswith(MENTION):
            above, directive = parse_directive(page, number + 1, line)
            if above:
                if last_closed is None or last_closed != number - 1 or blocks[-1] is None:
                    raise DirectiveError(
                        f"{page}:{number + 1}: a `doc-test (above)` comment must follow a "
                        "runnable block's closing fence directly."
                    )
                previous = blocks[-1]
                blocks[-1] = DocBlock(
                    **{**previous.__dict__, "directives": previous.directives + (directive,)}
                )
            else:
                pending.append(directive)
            used.add(number)
            number += 1
            continue
        fence = FENCE.match(line)
        if not fence:
            if pending and line.strip():
                raise DirectiveError(
                    f"{page}:{pending[0].line}: a doc-test comment must stand right before a "
                    "code block's opening fence."
                )
            number += 1
            continue
        language = fence.group(1)
        if language not in LANGUAGES:
            raise DirectiveError(
                f"{page}:{number + 1}: fenced block with language {language!r}; tag it "
                f"with one of {sorted(LANGUAGES)} (bash/sh/shell and python blocks are run)."
            )
        end = number + 1
        while end < len(lines) and not FENCE.match(lines[end]):
            end += 1
        if end == len(lines):
            raise DirectiveError(f"{page}:{number + 1}: code block without a closing fence.")
        if LANGUAGES[language] is None:
            if pending:
                raise DirectiveError(f"{page}:{pending[0].line}: a text block is not run.")
            blocks.append(None)
        else:
            index = sum(block is not None for block in blocks)
            source = "\n".join(lines[number + 1 : end]) + "\n"
            blocks.append(
                DocBlock(page, number + 1, index, LANGUAGES[language], source, tuple(pending))
            )
        pending, last_closed, number = [], end, end + 1
    if pending:
        raise DirectiveError(f"{page}:{pending[0].line}: doc-test comment after the last block.")
    return [block for block in blocks if block is not None]


def documentation_pages(root=ROOT):
    """README.md and every docs/*.md page, relative to `root`."""
    return ["README.md", *sorted(str(p.relative_to(root)) for p in (root / "docs").glob("*.md"))]


def documented_blocks(root=ROOT):
    blocks = []
    for page in documentation_pages(root):
        blocks += parse_page(page, (root / page).read_text(encoding="utf-8"))
    return blocks
