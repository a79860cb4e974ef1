"""Makes docs/report.png, the README's picture of `nico report` (run by hand, not by pytest):

    python tests/readme_screenshot.py

The demo database (as `nico demo` makes it), sm500000 fetched, made "later" by the emulator and
fetched again (the README's `nico diff` example), then `nico report sm9 sm500000`, rendered by
headless Chromium (Debian's chromium; install fonts-ipafont-gothic or any Japanese font first).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import docgen  # noqa: E402
from tests.test_report import chromium  # noqa: E402


def main() -> int:
    demo = docgen.demo()
    docgen.changes_console("sm500000")
    demo.run("nico report sm9 sm500000 --db nico-demo.db -o report.html")
    page = demo.folder / "report.html"
    chromium("--window-size=1100,1500", "--screenshot=report.png", page.as_uri(), cwd=demo.folder)
    target = ROOT / "docs" / "report.png"
    shutil.copy(demo.folder / "report.png", target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
