"""Screenshot RD-Agent's RL trace viewer on a finished run, as a person sees it in a browser.

    python scripts/trace_viewer_screenshot.py RUN_DIR out.png [--port 8599]

Starts `rdagent autorl ui RUN_DIR`, opens it in headless Chromium (Debian's `chromium` package,
driven by Playwright: `pip install -e '.[screenshot]'`), switches to the Single Task view, loads the
run's trace, opens every loop, and saves a full-page PNG. Needs no network.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the viewer did not answer at {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--port", type=int, default=8599)
    args = parser.parse_args()
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        raise SystemExit("no chromium found: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    rdagent = str(Path(sys.executable).parent / "rdagent")
    server = subprocess.Popen([rdagent, "autorl", "ui", str(args.run_dir), "--port", str(args.port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{args.port}"
        wait_for(f"{url}/_stcore/health")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 2400})
            page.goto(url)
            page.get_by_text("Single Task").click()
            box = page.get_by_label("Log Folder")
            box.fill(".")
            box.press("Enter")
            page.get_by_text("RL Timeline Viewer").wait_for(timeout=60_000)
            page.get_by_text("Loop 0").first.wait_for(timeout=60_000)
            for summary in page.locator("summary").filter(has_text="Loop").all():
                summary.click()
            for summary in page.locator("summary").filter(has_text="Hypothesis").all()[:4]:
                summary.click()
            page.evaluate("document.querySelector('[data-testid=stMain]')?.scrollTo(0, 0)")
            page.wait_for_timeout(1500)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
        print(args.out)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
