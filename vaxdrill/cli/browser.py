"""Open a report in headless Chromium: every image loads, no console error, a screenshot.

Uses Debian's ``chromium`` and ``chromium-driver`` through Selenium (no driver download). On these
machines Chromium needs ``--headless --no-sandbox --disable-gpu --disable-background-networking``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from vaxdrill.core.errors import BrowserUnavailable

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--window-size=1280,1600",
)


@dataclass
class PageCheck:
    """What the browser saw."""

    title: str
    images: int
    broken_images: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.broken_images and not self.console_errors


def find_browser() -> tuple[str, str]:
    """Paths of chromium and chromedriver, or :class:`BrowserUnavailable` saying what is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", driver)) if path is None]
    if missing:
        raise BrowserUnavailable(
            f"{' and '.join(missing)} not installed (Debian packages chromium and chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        raise BrowserUnavailable("the Python package selenium is not installed (pip install selenium)") from None
    assert chromium is not None and driver is not None
    return chromium, driver


def check_page(page: Path, screenshot: Path | None = None, timeout: float = 30.0) -> PageCheck:
    """Load ``page`` (a local file) and report broken images and console errors."""
    chromium, driver_path = find_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.set_page_load_timeout(timeout)
        driver.get(page.resolve().as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt || i.src.slice(0, 60), i.complete, i.naturalWidth])"
        )
        broken = [str(alt) for alt, complete, width in images if not complete or not width]
        errors = [
            str(entry["message"])
            for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
            if entry.get("level") == "SEVERE"
        ]
        if screenshot is not None:
            height = int(driver.execute_script("return document.body.scrollHeight") or 1600)
            driver.set_window_size(1280, min(max(height, 800), 8000))
            driver.save_screenshot(str(screenshot))
        return PageCheck(
            title=str(driver.title),
            images=len(images),
            broken_images=broken,
            console_errors=errors,
            screenshot=screenshot,
        )
    finally:
        driver.quit()
