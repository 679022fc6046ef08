"""Write docs/rules/<CODE>.md and the README's rules table from the rule classes.

    python scripts/document_rules.py          # rewrite the files
    python scripts/document_rules.py --check  # exit 1 if they are out of date

tests/test_docs.py runs the check, so CI fails when the docs drift.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flake8_django_safety.docs import render_rule_page, replace_table
from flake8_django_safety.rule import registered_rules

ROOT = Path(__file__).resolve().parent.parent


def expected_files() -> dict[Path, str]:
    """Every generated file with the content it should have."""
    files = {
        ROOT / "docs" / "rules" / f"{code}.md": render_rule_page(rule)
        for code, rule in registered_rules().items()
    }
    readme = ROOT / "README.md"
    files[readme] = replace_table(readme.read_text(encoding="utf-8"))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift")
    args = parser.parse_args(argv)
    stale = []
    for path, content in expected_files().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    orphans = sorted(
        page.relative_to(ROOT)
        for page in (ROOT / "docs" / "rules").glob("*.md")
        if page.stem not in registered_rules()
    )
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    for path in orphans:
        print(f"no rule for: {path}")
    return 1 if (args.check and stale) or orphans else 0


if __name__ == "__main__":
    sys.exit(main())
