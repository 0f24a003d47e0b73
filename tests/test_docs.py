"""The Markdown docs hold together: cards fit their form, links resolve, CI runs the README."""

import re
from pathlib import Path

import pytest

from bytesim.registry import list_models

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted(
    [ROOT / "README.md", ROOT / "benchmarks" / "README.md"]
    + list((ROOT / "docs").glob("*.md"))
    + list((ROOT / "bytesim" / "models").glob("*/README.md")),
)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower())
            anchors.add(title.replace(" ", "-"))
    return anchors


def test_every_shipped_model_has_a_card_of_at_most_6_kb():
    models = list_models()
    assert models
    for model in models:
        assert (model.path / "README.md").stat().st_size <= 6144, model.name


def test_card_summary_is_one_short_line_ending_a_sentence():
    for model in list_models():
        assert model.summary.endswith("."), model.name
        assert len(model.summary) <= 250, model.name


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path) if path else doc
        assert linked.exists(), f"{doc.name}: {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{doc.name}: {target}"


def test_readme_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    command = next(line for line in ci if "pytest" in line)
    assert f"\n{command}\n" in (ROOT / "README.md").read_text(encoding="utf-8")
