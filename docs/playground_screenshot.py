"""Writes docs/playground.png: the numnet playground after training on the spiral.

Needs the `playground` and `test` extras and Chromium with its driver (Debian:
`apt-get install chromium chromium-driver`). Run from the repository root:

    python docs/playground_screenshot.py
"""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

SETUP = "dataset=spiral&noise=5&features=x1,x2,sinx1,sinx2&layers=8,8,6&learningRate=0.03"


def main(target=Path(__file__).resolve().parent / "playground.png"):
    server = subprocess.Popen([sys.executable, "-m", "numnet", "playground", "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--window-size=1400,880", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        driver.get(f"{url}#{SETUP}")
        frame = "window.numnetPlayground.frame"
        WebDriverWait(driver, 30).until(lambda d: d.execute_script(f"return {frame}"))
        driver.find_element("id", "play").click()
        WebDriverWait(driver, 120, 0.1).until(lambda d: d.execute_script(
            f"return {frame}.testLoss < 0.05 || {frame}.epoch >= 600"))
        driver.find_element("id", "play").click()
        time.sleep(0.5)
        driver.save_screenshot(str(target))
        print(f"wrote {target}")
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
