"""The command center: a read-only web dashboard over the run store and the self-contained HTML report.

Both are drawn by the same browser code (``static/app.js``) from the same JSON (``views``):
the live app (``app.make_app``, Starlette) serves it under ``/api/...`` and polls for what is
new; the report (``report.build_report``) embeds it in one HTML file with plotly.js inlined.
"""
