"""Checks a report page as Chromium drew it (tests/cli/report.sh).

usage: report_check.py DOM_FILE [SCREENSHOT MIN_CHARTS]
  DOM_FILE    chromium --dump-dom of the page: the status line the page writes once loaded
              (charts, how many painted, their rectangles and colours, the errors it saw)
  SCREENSHOT  a screenshot of the whole page at the same width: each chart's rectangle must hold
              pixels of its datasets' colours, i.e. the data drew, not just the axes
Prints the page height (for the screenshot's window) when only DOM_FILE is given.
"""
import html
import json
import re
import sys


def status(dom_file):
    text = open(dom_file, encoding="utf-8").read()
    m = re.search(r"report-status (\{.*?\})</div>", text, re.S)
    if not m:
        sys.exit("the page wrote no status line: its script did not run to the end")
    return json.loads(html.unescape(m.group(1)))


def rgb(colour):
    m = re.fullmatch(r"#([0-9a-fA-F]{6})", colour)
    if not m:
        sys.exit(f"unexpected colour {colour!r}")
    v = int(m.group(1), 16)
    return (v >> 16) & 255, (v >> 8) & 255, v & 255


def main():
    s = status(sys.argv[1])
    if s["errors"]:
        sys.exit("the page reported errors: " + "; ".join(s["errors"]))
    if s["drawn"] != s["charts"]:
        blank = [i for i, c in enumerate(s["list"]) if c["painted"] <= 100]
        sys.exit(f"{s['charts'] - s['drawn']} of {s['charts']} charts painted nothing: {blank}")
    if len(sys.argv) == 2:
        print(s["height"])
        return
    from PIL import Image

    shot = Image.open(sys.argv[2]).convert("RGB")
    min_charts = int(sys.argv[3])
    if s["charts"] < min_charts:
        sys.exit(f"{s['charts']} charts on the page, expected at least {min_charts}")
    for i, c in enumerate(s["list"]):
        x, y, w, h = (int(round(v)) for v in c["rect"])
        if y + h > shot.height or x + w > shot.width:
            sys.exit(f"chart {i} at {c['rect']} lies outside the {shot.width}x{shot.height} screenshot")
        pixels = list(shot.crop((x, y, x + w, y + h)).getdata())
        colours = [rgb(k) for k in c["colours"]]
        hits = sum(1 for p in pixels if any(sum((a - b) ** 2 for a, b in zip(p, k)) < 40 ** 2 for k in colours))
        if hits < 30:
            sys.exit(f"chart {i} at {c['rect']}: {hits} pixels of its colours {c['colours']} in the screenshot")
    print(f"{s['charts']} charts drew their data, no errors")


if __name__ == "__main__":
    main()
