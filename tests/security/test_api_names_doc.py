"""docs/permissions.md lists every API name: the generated table matches the registry."""

from pathlib import Path

from django.core.management import call_command

from accounts.permissions import known_operations
from security import api_catalog
from security.api_openapi import the_api

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


def test_it_keeps_the_generated_table_of_the_doc_current():
    text = DOC.read_text(encoding="utf-8")
    assert api_catalog.replace_in(text, the_api()) == text, "run: manage.py api_names --write"


def test_it_lists_every_known_name_in_the_doc():
    text = DOC.read_text(encoding="utf-8")
    table = text.split(api_catalog.DOC_START)[1].split(api_catalog.DOC_END)[0]
    assert {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")} == set(
        known_operations()
    )


def test_it_marks_root_only_names_in_the_doc():
    text = DOC.read_text(encoding="utf-8")
    row = next(
        line for line in text.splitlines() if line.startswith("| `Operator:updateOperatorPassword`")
    )
    assert row.endswith("| yes |")


def test_it_replaces_only_the_generated_part(tmp_path):
    stale = (
        f"# Title\n\nintro\n\n{api_catalog.DOC_START}\n| old |\n{api_catalog.DOC_END}\n\nafter\n"
    )
    fresh = api_catalog.replace_in(stale, the_api())
    assert fresh.startswith("# Title\n\nintro\n\n") and fresh.endswith("\n\nafter\n")
    assert "| old |" not in fresh


def test_it_checks_the_doc_from_the_command(capsys):
    call_command("api_names", "--check")
    assert "up to date" in capsys.readouterr().out
