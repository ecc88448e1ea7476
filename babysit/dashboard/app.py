"""The live dashboard: a Starlette app over a read-only store, served by uvicorn.

Routes: ``/`` the page (command center, search view and run pages, routed in the browser by
``#/...``), ``/static/app.js`` and ``/static/style.css`` (this package's assets, named one by
one: no path from the URL ever reaches the file system), ``/static/plotly.min.js`` (from the
installed ``plotly`` wheel; the machines are offline, no CDN; the page loads it only for the
search view and the run pages: the command center draws its small multiples on canvases), and
the JSON API: ``/api/overview?after=N&since=C&open=ids`` (runs' summaries; only new runs and new
points cross the wire), ``/api/curves?ids=...&upto=C`` (the small multiples of the cards shown),
``/api/searches``, ``/api/search/ID``, ``/api/run/ID``, ``/api/findings``. Responses are gzipped
when the client accepts it. Only GET and HEAD are routed: no endpoint writes, and the store is
opened ``mode=ro`` besides.
"""

from __future__ import annotations

import contextlib
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from babysit.dashboard import views
from babysit.dashboard.source import StoreSource

# name in the URL -> (file of this package's static/ folder, content type): the only files served
ASSETS = {"app.js": ("app.js", "text/javascript"), "style.css": ("style.css", "text/css")}
MAX_IDS = 5000  # run ids in one ?open= (the runs a client shows as running)
MAX_CURVE_IDS = 200  # run ids in one /api/curves request
MAX_PAGE = 20_000  # runs' summaries in one overview response
SECURITY_HEADERS = {
    # unsafe-eval: plotly's WebGL traces (parcoords) compile their shaders with new Function; inline scripts stay blocked
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
}


@lru_cache(maxsize=None)
def asset(name: str) -> bytes:
    return resources.files("babysit.dashboard").joinpath("static", name).read_bytes()


@lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """plotly.min.js of the installed ``plotly`` package (its package_data)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path.read_bytes()


def page_html(*, data_json: str | None = None, inline: dict[str, str] | None = None) -> str:
    """The one page: served live (scripts by URL) or, with ``inline`` scripts and ``data_json``, as the report.

    plotly.js is not loaded with the page (compiling its 4.6 MB takes seconds): app.js loads it when a
    search view or run page is opened, from ``static/plotly.min.js`` live, or in the report from the
    inert ``<script type="text/plain" id="babysit-plotly">`` that holds its text."""
    template = asset("index.html").decode()
    if inline is None:
        head = '<link rel="stylesheet" href="static/style.css"><script src="static/app.js" defer></script>'
        data = ""
    else:
        head = f"<style>{inline['style.css']}</style>"
        data = (f'<script type="text/plain" id="babysit-plotly">{inline["plotly.min.js"]}</script>'
                f'<script type="application/json" id="babysit-data">{data_json}</script><script>{inline["app.js"]}</script>')
    return template.replace("<!--HEAD-->", head).replace("<!--DATA-->", data)


def _int(request: Request, name: str, default: int = 0) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or len(text) > 18:
        raise ValueError(f"{name} must be a non-negative integer")
    return int(text)


def _ids(request: Request, name: str = "open", most: int = MAX_IDS) -> list[int]:
    text = request.query_params.get(name, "")
    parts = [p for p in text.split(",") if p]
    if len(parts) > most or not all(p.isdigit() and len(p) <= 18 for p in parts):
        raise ValueError(f"{name} must be at most {most} comma-separated run ids")
    return [int(p) for p in parts]


def make_app(store_path, *, warm: bool = True) -> Starlette:
    """The dashboard app over the store at ``store_path`` (raises StoreError when it is not a readable store);
    ``warm``: reduce the best runs' small multiples in a thread at start-up (``views.warm_curves``)."""
    source = StoreSource(store_path)

    def json(payload, status: int = 200) -> Response:
        if payload is None:
            return JSONResponse({"error": "not found"}, status_code=404, headers=SECURITY_HEADERS)
        return JSONResponse(payload, status_code=status, headers=SECURITY_HEADERS)

    async def call(fn, *args):
        try:
            return json(await run_in_threadpool(fn, *args))
        except ValueError as err:
            return json({"error": str(err)}, 400)

    async def index(request):
        return Response(page_html(), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    async def static(request):
        name = request.path_params["name"]
        if name == "plotly.min.js":
            body, kind = plotly_js(), "text/javascript"
        elif name in ASSETS:
            file, kind = ASSETS[name]
            body = asset(file)
        else:
            return Response("not found", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
        return Response(body, media_type=kind, headers={**SECURITY_HEADERS, "Cache-Control": "max-age=3600"})

    async def overview(request):
        try:
            args = (_int(request, "after"), _int(request, "since"), _ids(request),
                    min(_int(request, "limit", views.PAGE_RUNS) or views.PAGE_RUNS, MAX_PAGE))
        except ValueError as err:
            return json({"error": str(err)}, 400)
        return await call(views.overview, source, *args)

    async def curves(request):
        try:
            ids = _ids(request, "ids", MAX_CURVE_IDS)
            upto = _int(request, "upto") if request.query_params.get("upto") else None
        except ValueError as err:
            return json({"error": str(err)}, 400)
        return await call(views.curves, source, ids, upto)

    async def search(request):
        return await call(views.search_view, source, request.path_params["id"])

    async def run(request):
        return await call(views.run_view, source, request.path_params["id"])

    async def searches(request):
        return await call(views.searches, source)

    async def findings(request):
        return await call(views.store_findings, source)

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/static/{name}", static, methods=["GET", "HEAD"]),
        Route("/api/overview", overview, methods=["GET", "HEAD"]),
        Route("/api/curves", curves, methods=["GET", "HEAD"]),
        Route("/api/searches", searches, methods=["GET", "HEAD"]),
        Route("/api/findings", findings, methods=["GET", "HEAD"]),
        Route("/api/search/{id:int}", search, methods=["GET", "HEAD"]),
        Route("/api/run/{id:int}", run, methods=["GET", "HEAD"]),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        stop = threading.Event()
        if warm:  # the best runs' small multiples, reduced before a browser asks (their own connection)
            def run():
                try:
                    views.warm_curves(source, stop=stop)
                except Exception:  # the store closed under it at shutdown; otherwise say why
                    if not stop.is_set():
                        raise
            threading.Thread(target=run, daemon=True, name="babysit-warm-curves").start()
        yield
        stop.set()
        source.close()  # the store's connections, at shutdown

    # JSON of many runs compresses ~5x: gzip what is worth it (the empty poll stays uncompressed)
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(GZipMiddleware, minimum_size=1000)])
    app.state.source = source
    return app


def serve(store_path, host: str = "127.0.0.1", port: int = 8050, log_level: str = "warning") -> None:
    """Serve the dashboard until interrupted (uvicorn, one process: the store is read, never written)."""
    import uvicorn

    uvicorn.run(make_app(store_path), host=host, port=port, log_level=log_level, access_log=False)
