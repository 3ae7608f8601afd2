"""At 390x844 (a phone) no console page is wider than the viewport (issue 14, item 3)."""

from pathlib import Path

import pytest

from tests.browser.console_pages import build_world, walk

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp/shots-uxa")


def _name(who: str, path: str) -> str:
    return f"390-{who}-" + (path.strip("/").replace("/", "_") or "home")


@pytest.mark.parametrize("who", ["root", "sam", "staff", "anonymous"])
def test_no_page_is_wider_than_a_phone(page, live_server, root, expect_answer, who):
    world = build_world(root)
    page.set_viewport_size(PHONE)
    SHOTS.mkdir(exist_ok=True)
    too_wide = {}
    for path in walk(page, live_server, root, world, who, expect_answer):
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
        page.screenshot(path=SHOTS / f"{_name(who, path)}.png", full_page=True)
    assert not too_wide, too_wide
