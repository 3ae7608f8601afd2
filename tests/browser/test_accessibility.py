"""axe-core finds no serious or critical violation on any console page (issue 14).

axe.min.js comes from the axe-core npm package that `make test` installs into the ignored
node_modules/ (the version is pinned in package.json and package-lock.json) and is
injected from that file: no CDN. Every console page is checked, as root, as a SAM user
holding a read-only role, as support staff and signed out, at 1280x900 and at 390x844.
Without the package the tests skip and say how to get it.
"""

from pathlib import Path

import pytest

from tests.browser.console_pages import BACKENDS, build_world, sign_in_as, walk

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}
BLOCKING = {"serious", "critical"}


@pytest.fixture
def axe_page(browser, live_server, expected_answers, request):
    """A page whose context lets an injected script run (the CSP allows only ours)."""
    if not AXE.exists():
        pytest.skip(f"{AXE} is missing: run `make axe` (needs npm) to install axe-core")
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:3])
        for v in found
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("who", ["root", "sam", "staff", "anonymous"])
def test_no_page_has_a_serious_accessibility_violation(
    axe_page, live_server, root, expect_answer, who, width
):
    world = build_world(root)
    axe_page.set_viewport_size(WIDTHS[width])
    found = {}
    for path in walk(axe_page, live_server, root, world, who, expect_answer):
        problems = violations(axe_page)
        if problems:
            found[path] = problems
    assert not found, "\n".join(f"{path}: {problem}" for path in found for problem in found[path])


def test_the_secret_dialog_has_no_serious_accessibility_violation(axe_page, live_server, root):
    build_world(root)
    sign_in_as(axe_page, live_server, root, BACKENDS["root"])
    axe_page.goto("/security/authkeys/")
    axe_page.click("button[data-generate-authkey]")  # the world holds one root key
    axe_page.click("dialog[open] [data-generate-submit]")  # the description is optional
    axe_page.wait_for_selector("dialog[open] #new-key-secret")
    axe_page.keyboard.press("Escape")  # the close confirmation shows
    assert not violations(axe_page)


def test_the_check_reports_a_violation_when_there_is_one(axe_page, live_server):
    """The harness can fail: a button without a name on the sign-in page is reported."""
    axe_page.goto("/login/")
    axe_page.evaluate("document.querySelector('main').append(document.createElement('button'))")
    assert any(v.startswith("button-name (critical)") for v in violations(axe_page))
