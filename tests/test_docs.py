"""Every fenced bash/sh/shell and python block of README.md and docs/*.md runs, as a reader
would run it (docs/development.md, "Documentation tests"); the README stays short."""

import json
import re
import sys

import pytest

from tests import doc_setups
from tests.doc_blocks import ROOT, DirectiveError, documented_blocks, parse_page
from tests.doc_runner import DocBlockFailed, prepare_page_folder, run_block

README_MAX_LINES = 250
BLOCKS = documented_blocks()


def _param(block):
    if block.skip_reason:
        return pytest.param(block, id=block.id, marks=pytest.mark.skip(reason=block.skip_reason))
    return pytest.param(block, id=block.id, marks=pytest.mark.slow)


class PageFolders:
    """One working folder per page: its blocks run there in document order, so a block may
    use what an earlier block of its page wrote. Running one block alone (-k) runs the
    earlier blocks of its page first."""

    def __init__(self, factory):
        self.factory = factory
        self.folders = {}
        self.ran = set()

    def folder_for(self, block):
        if block.page not in self.folders:
            name = re.sub(r"\W", "_", block.page)
            self.folders[block.page] = prepare_page_folder(self.factory.mktemp(name))
        folder = self.folders[block.page]
        for earlier in BLOCKS:
            if earlier.page == block.page and earlier.index < block.index:
                self.run_once(earlier, folder)
        return folder

    def run_once(self, block, folder):
        if block.id in self.ran or block.skip_reason:
            return
        self.ran.add(block.id)
        run_block(block, folder)


@pytest.fixture(scope="session")
def page_folders(tmp_path_factory):
    return PageFolders(tmp_path_factory)


@pytest.mark.parametrize("block", [_param(block) for block in BLOCKS])
def test_documented_block_runs(block, page_folders):
    folder = page_folders.folder_for(block)
    page_folders.ran.add(block.id)
    run_block(block, folder)


def test_every_directive_applies():
    """Replace directives find their text, setups exist (skipped blocks included)."""
    for block in BLOCKS:
        block.source_as_run()
        for name, *_ in block.setups:
            assert name in doc_setups.SETUPS, f"{block.id}: no setup {name!r} (tests/doc_setups.py)"


def test_the_readme_is_short_and_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    assert lines[:4] == [
        "```bash",
        'pip install -e ".[training,export]" && python tools/demo.py',
        'pip install torch==2.13.0 && pip install -e ".[dev]" && python tools/run_tests.py',
        "```",
    ]


def test_the_model_table_gives_the_reference_parameter_counts():
    counts = json.loads((ROOT / "tests" / "data" / "reference_param_counts.json").read_text())
    expected = {}
    for family, variants in counts.items():
        for name, value in variants.items() if not family.startswith("_") else ():
            if isinstance(value, dict):  # VanillaNet's training graph, PaddleClas' head
                value = value.get("train_graph_params") or value["paddle_layout_params"]
            if not name.startswith("_"):
                expected[name] = f"{value:,}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| .*?`(\w+)` \| ([\d,]+) \|", readme, flags=re.M))
    assert {name: rows.get(name) for name in expected} == expected


def test_relative_links_of_the_docs_resolve():
    for page in ["README.md", *(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]:
        text = (ROOT / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" not in target:
                assert ((ROOT / page).parent / target).exists(), f"{page}: broken link {target}"


# The convention itself, on made-up pages.


def test_directives_attach_to_the_next_block_or_the_block_above():
    page = (
        "```bash\necho first\n```\n<!-- doc-test (above): skip installs packages -->\n\n"
        "text\n\n<!-- doc-test: env A=1 B=two -->\n"
        '<!-- doc-test: replace "echo $A" "echo $B" -->\n```sh\necho $A\n```\n'
        "```text\nnot run\n```\n```python\nprint(1)\n```\n"
    )
    first, second, third = parse_page("page.md", page)
    assert (first.skip_reason, first.line) == ("installs packages", 1)
    assert second.environment == {"A": "1", "B": "two"} and second.language == "shell"
    assert second.source_as_run() == "echo $B\n" and not second.skip_reason
    assert (third.language, third.index, third.directives) == ("python", 2, ())


@pytest.mark.parametrize(
    "page, message",
    [
        ("<!-- doc-test: skipp x -->\n```bash\ntrue\n```\n", "unknown doc-test directive 'skipp'"),
        ("<!-- doc-test: skip x -->\n\nprose\n```bash\ntrue\n```\n", "right before a code block"),
        ("```\nls\n```\n", "tag it with one of"),
        ('<!-- doc-test: replace "a" -->\n```bash\ntrue\n```\n', "takes 2 argument(s)"),
        ("```bash\ntrue\n", "without a closing fence"),
        ("text\n<!-- doc-test (above): skip x -->\n", "must follow a runnable block"),
    ],
)
def test_a_directive_that_cannot_apply_is_an_error(page, message):
    with pytest.raises(DirectiveError, match=re.escape(message)):
        parse_page("page.md", page)


def test_a_replace_whose_text_is_gone_is_an_error():
    (block,) = parse_page("page.md", '<!-- doc-test: replace "old" "new" -->\n```bash\nls\n```\n')
    with pytest.raises(DirectiveError, match="does not contain it"):
        block.source_as_run()


def test_a_failing_command_fails_and_python_is_this_interpreter(tmp_path):
    folder = prepare_page_folder(tmp_path)
    page = (
        "```bash\npython -c 'import sys; print(sys.executable)'\n```\n"
        "```bash\nfalse\necho reached-$((1 + 1))\n```\n"
        '```python\nraise SystemExit("a documented failure")\n```\n'
        "<!-- doc-test: timeout 1 -->\n```bash\nsleep 30\n```\n"
    )
    interpreter, failing_shell, failing_python, slow = parse_page("page.md", page)
    assert run_block(interpreter, folder).strip() == sys.executable
    with pytest.raises(DocBlockFailed, match="exited 1") as failure:
        run_block(failing_shell, folder)
    assert "reached-2" not in str(failure.value)
    with pytest.raises(DocBlockFailed, match="a documented failure"):
        run_block(failing_python, folder)
    with pytest.raises(DocBlockFailed, match="past its 1 s timeout"):
        run_block(slow, folder)
