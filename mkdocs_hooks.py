"""mkdocs hook: links from docs/ to files elsewhere in the repository are fine, if they exist.

The guide links to ARCHITECTURE.md and to examples/ the way a repository browser shows them.
mkdocs cannot check links that leave docs/, so a strict build would fail on them; this hook
checks that each such target exists and hands it to the page as a plain HTML link. A link to a
missing file is left alone, and the strict build fails on it as it should.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>\.\./[^)#\s]+)(?P<anchor>#[^)\s]*)?\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Turn ``[text](../path)`` into an HTML link when ``path`` exists in the repository."""
    page_dir = (Path(config["docs_dir"]) / page.file.src_path).parent
    repository = Path(config["docs_dir"]).resolve().parent

    def replace(match: re.Match[str]) -> str:
        target = (page_dir / match["target"]).resolve()
        if not target.exists() or repository not in target.parents:
            return match[0]
        href = match["target"] + (match["anchor"] or "")
        return f'<a href="{href}">{match["text"]}</a>'

    return _LINK.sub(replace, markdown)
