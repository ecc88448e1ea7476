"""The live app over HTTP (a real ``babysit dashboard`` process): what it serves, what it refuses, that it never writes."""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.error
import urllib.request

import pytest


def get(server, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(method, path)  # sent as written: no client-side normalisation of '..'
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, {k.lower(): v for k, v in response.getheaders()}


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_page_assets_and_plotly_come_from_the_server_itself(server):
    status, body, headers = get(server, "/")
    # plotly is not in the page itself: app.js loads static/plotly.min.js for the views that draw with it
    assert status == 200 and b'src="static/app.js"' in body and b"plotly" not in body and b"cdn" not in body.lower()
    assert "default-src 'self'" in headers["content-security-policy"]
    status, body, _ = get(server, "/static/plotly.min.js")
    import plotly
    from pathlib import Path

    assert status == 200 and body == (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    assert get(server, "/static/app.js")[0] == 200 and get(server, "/static/style.css")[0] == 200


@pytest.mark.parametrize("path", [
    "/static/../runs.sqlite", "/static/..%2fruns.sqlite", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2F..%2Fetc%2Fpasswd",
    "/static/index.html/../../app.py", "/static/app.py", "/static/__init__.py", "/static/%2Fetc%2Fpasswd",
    "/static//etc/passwd", "/../../etc/passwd", "/api/run/1/../../../etc/passwd", "/runs.sqlite", "/static/.",
    "/static/app.js%00.png", "/api/run/-1", "/api/run/abc", "/api/search/1.5",
])
def test_no_path_outside_the_apps_own_assets_is_served(server, path):
    status, body, _ = get(server, path)
    assert status in (400, 404), (path, status)
    assert b"root:" not in body and b"SQLite format" not in body and b"import " not in body


def test_no_endpoint_writes_and_the_store_is_unchanged(server, store_info):
    before = digest(store_info["path"])
    for path in ("/", "/api/overview", "/api/searches", "/api/findings", f"/api/search/{store_info['search_id']}",
                 f"/api/run/{store_info['final_id']}"):
        assert get(server, path)[0] == 200
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert get(server, path, method)[0] == 405, (method, path)
    assert digest(store_info["path"]) == before


def test_the_api_answers_incrementally_and_rejects_bad_cursors(server, store_info):
    first = json.loads(urllib.request.urlopen(server.url + "api/overview", timeout=30).read())
    assert len(first["runs"]) == len(store_info["trial_ids"]) + 1
    again = json.loads(urllib.request.urlopen(
        server.url + f"api/overview?after={first['after']}&since={first['cursor']}", timeout=30).read())
    assert again["runs"] == [] and again["curves"] == {}
    for bad in ("overview?after=-1", "overview?since=x", "overview?open=1,a", "overview?after=1e3",
                "curves?ids=1,x", "curves?upto=-3", "curves?ids=" + ",".join(["1"] * 201)):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server.url + "api/" + bad, timeout=30)
        assert err.value.code == 400, bad
    run_id = store_info["final_id"]
    got = json.loads(urllib.request.urlopen(server.url + f"api/curves?ids={run_id}&upto={first['cursor']}",
                                            timeout=30).read())
    assert set(got["curves"][str(run_id)]) == {"loss", "val_acc"}


def test_big_responses_are_gzipped_for_a_client_that_accepts_it(server, store_info):
    import gzip

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", f"/api/run/{store_info['final_id']}", headers={"Accept-Encoding": "gzip"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.getheader("Content-Encoding") == "gzip"
    plain = get(server, f"/api/run/{store_info['final_id']}")[1]
    assert json.loads(gzip.decompress(body)) == json.loads(plain) and len(body) < len(plain) / 2
    assert get(server, "/api/run/99999")[0] == 404
