"""The web app (FastAPI): the dashboard's pages and files, the JSON and CSV API under /api/v1 (OpenAPI at
/api/v1/openapi.json) and Prometheus metrics at /metrics. Requests whose Host header names a host the server does
not answer for are refused (400) before anything else (DNS rebinding). With a token set, every page and API call
needs it: `Authorization: Bearer <token>`, or the cookie the login page sets."""

from __future__ import annotations

import base64
import csv
import hmac
import html
import io
import time
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone
from importlib import metadata, resources
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from facemask.metadata import INCORRECT, MASKED, UNMASKED
from facemask.monitor.config import is_loopback
from facemask.monitor.site import Site, UploadRejected, local_offset
from facemask.monitor.store import LARGEST_ID, SNAPSHOT_KINDS

API = "/api/v1"
COOKIE = "facemask_token"
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
PERIODS = {"minute": 60, "hour": 3600, "day": 86400, "total": 0}
NO_STORE = {"Cache-Control": "no-store"}
OPEN_PATHS = {"/login", "/static/style.css"}  # the login page and its style
COUNT_LABELS = (MASKED, UNMASKED, INCORRECT)  # the CSV's count columns (other labels a model has are added)
CSV_LIMIT = 100_000


def host_name(header: str) -> str:
    """The host of a Host header, without its port, lower case ("[::1]:8080" -> "[::1]")."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostCheck:
    """ASGI middleware answering 400 to a request whose Host header is not one of `hosts` (names, `*.domain` for
    its subdomains, "*" for any) or a loopback address, so a page on another site cannot reach the server through
    a name it points at this machine (DNS rebinding)."""

    def __init__(self, app, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.exact = {host.lower() for host in hosts if not host.startswith("*")}
        self.suffixes = tuple(host[1:].lower() for host in hosts if host.startswith("*."))

    def allowed(self, header: str) -> bool:
        name = host_name(header)
        return (
            self.any
            or name in self.exact
            or (bool(self.suffixes) and name.endswith(self.suffixes))
            or (bool(name) and is_loopback(name))
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            if not self.allowed(headers.get(b"host", b"").decode("latin-1")):
                response = JSONResponse({"detail": "invalid Host header"}, status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def to_csv(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def csv_response(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def day_range(day: str, utc_offset: int) -> tuple[float, float]:
    """The epoch seconds at which `day` (YYYY-MM-DD, a day starting `utc_offset` seconds east of UTC) starts and
    ends; 422 for anything else."""
    try:
        start = datetime.combine(date.fromisoformat(day), datetime.min.time(), timezone(timedelta(seconds=utc_offset)))
    except (ValueError, OverflowError):
        raise HTTPException(422, f"day must be a date YYYY-MM-DD, got {day!r}") from None
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def load_static() -> dict[str, tuple[bytes, str]]:
    """The dashboard's files (package data), read once into memory: requests never reach the filesystem."""
    folder = resources.files("facemask.monitor").joinpath("static")
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in STATIC_TYPES:
            files[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
    return files


def parse_time(value: str | None, name: str) -> float | None:
    """A time parameter: ISO 8601 (no zone: UTC) or epoch seconds."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name} must be an ISO 8601 time or epoch seconds, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def version() -> str:
    try:
        return metadata.version("facemask")
    except metadata.PackageNotFoundError:
        return "unknown"


LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>facemask: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/static/style.css">
</head><body class="login"><form method="post" action="/login"><h1>facemask</h1>
<label>Access token <input type="password" name="token" autocomplete="current-password" autofocus></label>
<button type="submit">Sign in</button>{message}</form></body></html>"""


def create_app(site: Site) -> FastAPI:
    """The app serving `site`: starting it starts the cameras, stopping it stops them and closes the store."""
    static = load_static()
    token = site.config.token

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        site.start()
        try:
            yield
        finally:
            await run_in_threadpool(site.stop)

    app = FastAPI(
        title="facemask monitor",
        version=version(),
        lifespan=lifespan,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,
        redoc_url=None,
        description="Cameras, mask events, counts and photo analysis of a facemask site.",
    )

    def authorised(request: Request) -> bool:
        if token is None:
            return True
        header = request.headers.get("authorization", "")
        offered = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        return hmac.compare_digest(offered.encode("utf-8"), token.encode("utf-8"))

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if request.url.path in OPEN_PATHS or authorised(request):
            response = await call_next(request)
        elif request.url.path.startswith(API) or request.url.path == "/metrics" or request.method != "GET":
            response = JSONResponse(
                {"detail": "access token required"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        else:
            response = RedirectResponse("/login", status_code=303)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    app.add_middleware(HostCheck, hosts=site.config.answered_hosts)  # added last: runs first

    # -- pages ------------------------------------------------------------------------------------------------
    def page(name: str) -> Response:
        body, media = static[name]
        return Response(body, media_type=media, headers=NO_STORE)

    @app.get("/", include_in_schema=False)
    def dashboard() -> Response:
        return page("index.html")

    @app.get("/photo", include_in_schema=False)
    def photo_page() -> Response:
        return page("photo.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        if name not in static:
            raise HTTPException(404, "not found")
        body, media = static[name]
        return Response(body, media_type=media, headers={"Cache-Control": "no-cache"})

    @app.get("/login", include_in_schema=False)
    def login_page() -> Response:
        if token is None:
            return RedirectResponse("/", status_code=303)
        return HTMLResponse(LOGIN_PAGE.format(message=""))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        body = (await request.body())[:4096].decode("utf-8", "replace")
        offered = parse_qs(body).get("token", [""])[0]
        if token is None or hmac.compare_digest(offered.encode("utf-8"), token.encode("utf-8")):
            response = RedirectResponse("/", status_code=303)
            if token is not None:
                response.set_cookie(
                    COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https"
                )
            return response
        return HTMLResponse(LOGIN_PAGE.format(message='<p class="error">Wrong token.</p>'), status_code=401)

    # -- API --------------------------------------------------------------------------------------------------
    def worker(name: str):
        found = site.workers.get(name)
        if found is None:
            raise HTTPException(404, f"no camera named {name!r}")
        return found

    @app.get(f"{API}/health", summary="Whether the server runs, and how many cameras are online")
    def health() -> dict:
        statuses = [w.status() for w in site.workers.values()]
        online = sum(status.state == "online" for status in statuses)
        return {
            "status": "ok",
            "version": version(),
            "cameras": len(statuses),
            "online": online,
            "snapshot_bytes": site.store.snapshot_bytes,
        }

    @app.get(f"{API}/cameras", summary="Every camera with its status and processed frames per second")
    def cameras() -> dict:
        return {"cameras": [w.status().to_json() for w in site.workers.values()]}

    @app.get(f"{API}/cameras/{{name}}", summary="One camera's status")
    def camera(name: str) -> dict:
        return worker(name).status().to_json()

    @app.get(
        f"{API}/cameras/{{name}}/live.jpg",
        summary="The camera's newest annotated frame (JPEG)",
        response_class=Response,
    )
    def live(name: str) -> Response:
        data = worker(name).live_jpeg()
        if data is None:
            raise HTTPException(404, f"camera {name!r} has no frame yet")
        return Response(data, media_type="image/jpeg", headers=NO_STORE)

    @app.get(f"{API}/events", summary="Events (faces flagged), newest first, filtered and paged")
    def events(
        camera: str | None = None,
        label: str | None = None,
        since: str | None = Query(None, description="ISO 8601 or epoch seconds, inclusive"),
        until: str | None = Query(None, description="ISO 8601 or epoch seconds, exclusive"),
        before: int | None = Query(None, ge=1, le=LARGEST_ID, description="page on: events with ids below this"),
        limit: int = Query(50, ge=1, le=500),
    ) -> dict:
        rows = site.store.events(
            camera, label, parse_time(since, "since"), parse_time(until, "until"), before, limit + 1
        )
        page_rows = rows[:limit]
        return {
            "events": [row.to_json(API) for row in page_rows],
            "next_before": page_rows[-1].id if len(rows) > limit else None,
        }

    @app.get(
        f"{API}/events.csv", summary="Events as CSV, newest first, with the filters of /events", response_class=Response
    )
    def events_csv(
        camera: str | None = None,
        label: str | None = None,
        since: str | None = None,
        until: str | None = None,
        before: int | None = Query(None, ge=1, le=LARGEST_ID),
        limit: int = Query(10_000, ge=1, le=CSV_LIMIT),
    ) -> Response:
        rows = site.store.events(camera, label, parse_time(since, "since"), parse_time(until, "until"), before, limit)
        table = []
        for row in rows:
            data = row.to_json(API)
            table.append(
                [
                    data["id"],
                    data["camera"],
                    data["time"],
                    data["track"],
                    data["label"],
                    data["probability"],
                    *data["box"],
                    data["frame"],
                    data["snapshots"].get("face", ""),
                    data["snapshots"].get("frame", ""),
                ]
            )
        return csv_response(
            to_csv(
                [
                    "id",
                    "camera",
                    "time",
                    "track",
                    "label",
                    "probability",
                    "x",
                    "y",
                    "w",
                    "h",
                    "frame",
                    "face_snapshot",
                    "frame_snapshot",
                ],
                table,
            ),
            "events.csv",
        )

    @app.get(f"{API}/events/{{event_id}}", summary="One event")
    def event(event_id: int) -> dict:
        found = site.store.event(event_id)  # None for an id beyond SQLite's integers too
        if found is None:
            raise HTTPException(404, f"no event {event_id}")
        return found.to_json(API)

    @app.get(
        f"{API}/snapshots/{{event_id}}/{{kind}}.jpg",
        summary="An event's snapshot: face or frame (JPEG)",
        response_class=Response,
    )
    def snapshot(event_id: int, kind: str) -> Response:
        if kind not in SNAPSHOT_KINDS or not 0 < event_id < LARGEST_ID:
            raise HTTPException(404, "snapshots are face.jpg or frame.jpg")
        found = site.store.event(event_id)
        kept = found is not None and (found.face_snapshot if kind == "face" else found.frame_snapshot)
        if not kept:
            raise HTTPException(404, f"no {kind} snapshot for event {event_id} (none, or removed by retention)")
        try:
            data = site.store.snapshot_path(event_id, kind).read_bytes()
        except OSError:
            raise HTTPException(404, f"no {kind} snapshot for event {event_id}") from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    @app.get(f"{API}/counts", summary="People seen per camera and period, by label, with the compliance rate")
    def counts(
        per: str = Query("hour", description="minute, hour, day or total"),
        camera: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> dict:
        if per not in PERIODS:
            raise HTTPException(422, f"per must be one of {', '.join(PERIODS)}")
        start = parse_time(since, "since")
        rows = site.store.counts(PERIODS[per], camera, start, parse_time(until, "until"))
        return {"per": per, "rows": [row.to_json() for row in rows]}

    @app.get(
        f"{API}/counts.csv",
        summary="People seen per camera and period as CSV, with the filters of /counts",
        response_class=Response,
    )
    def counts_csv(
        per: str = Query("hour", description="minute, hour, day or total"),
        camera: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Response:
        rows = counts(per, camera, since, until)["rows"]
        labels = list(COUNT_LABELS) + sorted({label for row in rows for label in row["counts"]} - set(COUNT_LABELS))
        table = [
            [
                row["camera"],
                row["start"],
                row["people"],
                *(row["counts"].get(label, 0) for label in labels),
                "" if row["compliance"] is None else row["compliance"],
            ]
            for row in rows
        ]
        return csv_response(
            to_csv(["camera", "start", "people", *labels, "compliance"], table), f"counts-per-{per}.csv"
        )

    @app.get(f"{API}/summary", summary="A summary per camera and day: people, masked, flagged, compliance")
    def summary(
        days: int = Query(7, ge=1, le=3660, description="this many days, today included"),
        camera: str | None = None,
        utc_offset: int | None = Query(
            None,
            ge=-16 * 60,
            le=16 * 60,
            description="the days' time zone, minutes east of UTC (default: the server's)",
        ),
    ) -> dict:
        offset = local_offset() if utc_offset is None else utc_offset * 60
        now = time.time()
        today_start = (now + offset) // 86400 * 86400 - offset
        rows = site.store.daily(offset, camera, since=today_start - (days - 1) * 86400)
        return {"utc_offset": offset // 60, "days": [row.to_json() for row in rows]}

    @app.delete(
        f"{API}/data",
        summary="Erase the events, snapshots and counts of a camera, a day, or both",
        description="`camera` erases that camera's data (of `day` only, when given); `day` (YYYY-MM-DD, in "
        "the server's time zone or `utc_offset`) erases that day's data of every camera (or of "
        "`camera`). One of them is needed.",
    )
    def erase(
        camera: str | None = Query(None, max_length=64),
        day: str | None = Query(None, max_length=10),
        utc_offset: int | None = Query(None, ge=-16 * 60, le=16 * 60),
    ) -> dict:
        if camera is None and day is None:
            raise HTTPException(422, "give camera, day, or both")
        since = until = None
        if day is not None:
            since, until = day_range(day, local_offset() if utc_offset is None else utc_offset * 60)
        removed = site.store.erase(camera, since, until)
        return {"camera": camera, "day": day, "removed": removed}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, media = site.metrics.exposition()
        return Response(body, media_type=media, headers=NO_STORE)

    @app.post(
        f"{API}/detect",
        summary="Find and classify every face in a photo (the image file is the body)",
        description="The answer is the object `detect_mask_image.py --json` writes for one image. "
        "`annotated=true` adds the annotated photo as a JPEG data URL; `format=jpeg` answers with "
        "the annotated JPEG itself.",
        responses={413: {"description": "too many bytes or pixels"}, 415: {"description": "not an image"}},
    )
    async def detect(
        request: Request,
        name: str = Query("upload", max_length=200),
        annotated: bool = False,
        format: str = Query("json", pattern="^(json|jpeg)$"),
    ) -> Response:
        limit = site.config.max_upload_bytes
        if request.headers.get("content-type", "").startswith("multipart/"):
            return JSONResponse(
                {
                    "detail": "send the image file itself as the request body (curl --data-binary "
                    "@photo.jpg), not as a form"
                },
                status_code=415,
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return JSONResponse({"detail": f"upload is larger than {limit} bytes"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                return JSONResponse({"detail": f"upload is larger than {limit} bytes"}, status_code=413)
        started = time.perf_counter()
        try:
            answer = await run_in_threadpool(site.analyse_photo, bytes(body), name, annotated or format == "jpeg")
        except UploadRejected as problem:
            site.metrics.photo_requests.labels(str(problem.status)).inc()
            return JSONResponse({"detail": str(problem)}, status_code=problem.status)
        site.metrics.photo_requests.labels("200").inc()
        site.metrics.photo_seconds.observe(time.perf_counter() - started)
        if format == "jpeg":
            return Response(answer.annotated, media_type="image/jpeg", headers=NO_STORE)
        payload = answer.result.to_json()
        if answer.annotated is not None:
            payload["annotated_image"] = "data:image/jpeg;base64," + base64.b64encode(answer.annotated).decode()
        return JSONResponse(payload, headers=NO_STORE)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, problem: StarletteHTTPException) -> Response:
        if request.url.path.startswith(API):
            return JSONResponse({"detail": problem.detail}, status_code=problem.status_code, headers=problem.headers)
        return HTMLResponse(
            f"<!doctype html><title>{problem.status_code}</title><p>{html.escape(str(problem.detail))}</p>",
            status_code=problem.status_code,
        )

    return app
