"""Screenshot the project's web pages as a person sees them in a browser.

    python scripts/ui_screenshot.py RUN_DIR out.png [--port 8599]   RD-Agent's RL trace viewer on a run
    python scripts/ui_screenshot.py --bench out.png [--port 8599]   the benchmark dashboard

Starts `rdagent autorl ui ...`, opens it in headless Chromium (Debian's `chromium` package, driven by
Playwright: `pip install -e '.[screenshot]'`). For a trace it switches to the Single Task view, loads
the run's trace and opens every loop; then it saves a PNG. Needs no network.
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
    parser.add_argument("paths", nargs="+", type=Path, help="RUN_DIR OUT.png, or OUT.png with --bench")
    parser.add_argument("--bench", action="store_true", help="the benchmark dashboard instead of a trace")
    parser.add_argument("--port", type=int, default=8599)
    args = parser.parse_args()
    if len(args.paths) != (1 if args.bench else 2):
        parser.error("give RUN_DIR OUT.png, or --bench OUT.png")
    out = args.paths[-1]
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        raise SystemExit("no chromium found: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    rdagent = str(Path(sys.executable).parent / "rdagent")
    target = ["--bench"] if args.bench else [str(args.paths[0].resolve())]
    server = subprocess.Popen([rdagent, "autorl", "ui", *target, "--port", str(args.port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{args.port}"
        wait_for(f"{url}/_stcore/health")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 2400})
            page.goto(url)
            if args.bench:
                page.get_by_text("Leaderboard").wait_for(timeout=60_000)
                page.get_by_text("Report").first.wait_for(timeout=60_000)
            else:
                show_trace(page)
            page.evaluate("document.querySelector('[data-testid=stMain]')?.scrollTo(0, 0)")
            page.wait_for_timeout(1500)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
        print(out)
    finally:
        server.terminate()
        server.wait(10)


def show_trace(page) -> None:
    """Single Task view, Log Folder '.', every loop and the first hypotheses opened."""
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


if __name__ == "__main__":
    main()
