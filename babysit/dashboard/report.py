"""The self-contained report: the dashboard's views in one HTML file that opens offline, without a server.

``build_report(store_path)`` embeds plotly.js (from the installed ``plotly`` wheel), this
package's app.js and style.css, and every view's JSON (``views.report_data``) in a
``<script type="application/json">``; the JSON is escaped so that no string from the store can
end the script element (``<``, ``>``, ``&`` become ``\\u003c``, ...). The browser code is the
live app's: it reads the embedded responses instead of fetching them.
"""

from __future__ import annotations

import json
from pathlib import Path

from babysit.dashboard.app import asset, page_html, plotly_js
from babysit.dashboard.source import StoreSource
from babysit.dashboard.views import report_data
from babysit.fileio import atomic_write


def embedded_json(data) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' appears literally."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def report_html(store_path, *, extra: dict | None = None) -> str:
    """The report's HTML for the store at ``store_path``; ``extra`` keys are merged into the embedded data."""
    with StoreSource(store_path) as source:
        data = report_data(source)
    if extra:
        data.update(extra)
    inline = {"style.css": asset("style.css").decode(), "app.js": asset("app.js").decode(),
              "plotly.min.js": plotly_js().decode()}
    # a literal "</script" inside plotly.min.js or app.js would end the element early
    for name, text in inline.items():
        if "</script" in text.lower():
            inline[name] = text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    return page_html(data_json=embedded_json(data), inline=inline)


def write_report(store_path, out) -> Path:
    """Write the report of the store at ``store_path`` to ``out`` atomically; returns the path."""
    out = Path(out)
    atomic_write(out, report_html(store_path).encode("utf-8"))
    return out
