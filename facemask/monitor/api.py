"""The web app (FastAPI): the dashboard's pages and files, and the JSON API under /api/v1 (OpenAPI at
/api/v1/openapi.json). With a token set, every page and API call needs it: `Authorization: Bearer <token>`, or
the cookie the login page sets."""

from __future__ import annotations

import base64
import hmac
import html
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from importlib import metadata, resources
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from facemask.monitor.site import Site, UploadRejected
from facemask.monitor.store import SNAPSHOT_KINDS

API = "/api/v1"
COOKIE = "facemask_token"
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
PERIODS = {"minute": 60, "hour": 3600, "day": 86400, "total": 0}
NO_STORE = {"Cache-Control": "no-store"}
OPEN_PATHS = {"/login", "/static/style.css"}  # the login page and its style


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

    app = FastAPI(title="facemask monitor", version=version(), lifespan=lifespan,
                  openapi_url=f"{API}/openapi.json", docs_url=None, redoc_url=None,
                  description="Cameras, mask events, counts and photo analysis of a facemask site.")

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
        elif request.url.path.startswith(API) or request.method != "GET":
            response = JSONResponse({"detail": "access token required"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
        else:
            response = RedirectResponse("/login", status_code=303)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

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
                response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                                    secure=request.url.scheme == "https")
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
        return {"status": "ok", "version": version(), "cameras": len(statuses), "online": online,
                "snapshot_bytes": site.store.snapshot_bytes}

    @app.get(f"{API}/cameras", summary="Every camera with its status and processed frames per second")
    def cameras() -> dict:
        return {"cameras": [w.status().to_json() for w in site.workers.values()]}

    @app.get(f"{API}/cameras/{{name}}", summary="One camera's status")
    def camera(name: str) -> dict:
        return worker(name).status().to_json()

    @app.get(f"{API}/cameras/{{name}}/live.jpg", summary="The camera's newest annotated frame (JPEG)",
             response_class=Response)
    def live(name: str) -> Response:
        data = worker(name).live_jpeg()
        if data is None:
            raise HTTPException(404, f"camera {name!r} has no frame yet")
        return Response(data, media_type="image/jpeg", headers=NO_STORE)

    @app.get(f"{API}/events", summary="Events (faces flagged), newest first, filtered and paged")
    def events(camera: str | None = None, label: str | None = None,
               since: str | None = Query(None, description="ISO 8601 or epoch seconds, inclusive"),
               until: str | None = Query(None, description="ISO 8601 or epoch seconds, exclusive"),
               before: int | None = Query(None, description="page on: events with ids below this"),
               limit: int = Query(50, ge=1, le=500)) -> dict:
        rows = site.store.events(camera, label, parse_time(since, "since"), parse_time(until, "until"), before,
                                 limit + 1)
        page_rows = rows[:limit]
        return {"events": [row.to_json(API) for row in page_rows],
                "next_before": page_rows[-1].id if len(rows) > limit else None}

    @app.get(f"{API}/events/{{event_id}}", summary="One event")
    def event(event_id: int) -> dict:
        found = site.store.event(event_id)
        if found is None:
            raise HTTPException(404, f"no event {event_id}")
        return found.to_json(API)

    @app.get(f"{API}/snapshots/{{event_id}}/{{kind}}.jpg", summary="An event's snapshot: face or frame (JPEG)",
             response_class=Response)
    def snapshot(event_id: int, kind: str) -> Response:
        if kind not in SNAPSHOT_KINDS:
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
    def counts(per: str = Query("hour", description="minute, hour, day or total"), camera: str | None = None,
               since: str | None = None, until: str | None = None) -> dict:
        if per not in PERIODS:
            raise HTTPException(422, f"per must be one of {', '.join(PERIODS)}")
        start = parse_time(since, "since")
        rows = site.store.counts(PERIODS[per], camera, start, parse_time(until, "until"))
        return {"per": per, "rows": [row.to_json() for row in rows]}

    @app.post(f"{API}/detect", summary="Find and classify every face in a photo (the image file is the body)",
              description="The answer is the object `detect_mask_image.py --json` writes for one image. "
                          "`annotated=true` adds the annotated photo as a JPEG data URL; `format=jpeg` answers with "
                          "the annotated JPEG itself.",
              responses={413: {"description": "too many bytes or pixels"}, 415: {"description": "not an image"}})
    async def detect(request: Request, name: str = Query("upload", max_length=200),
                     annotated: bool = False, format: str = Query("json", pattern="^(json|jpeg)$")) -> Response:
        limit = site.config.max_upload_bytes
        if request.headers.get("content-type", "").startswith("multipart/"):
            return JSONResponse({"detail": "send the image file itself as the request body (curl --data-binary "
                                           "@photo.jpg), not as a form"}, status_code=415)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return JSONResponse({"detail": f"upload is larger than {limit} bytes"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                return JSONResponse({"detail": f"upload is larger than {limit} bytes"}, status_code=413)
        try:
            answer = await run_in_threadpool(site.analyse_photo, bytes(body), name,
                                             annotated or format == "jpeg")
        except UploadRejected as problem:
            return JSONResponse({"detail": str(problem)}, status_code=problem.status)
        if format == "jpeg":
            return Response(answer.annotated, media_type="image/jpeg", headers=NO_STORE)
        payload = answer.result.to_json()
        if answer.annotated is not None:
            payload["annotated_image"] = "data:image/jpeg;base64," + base64.b64encode(answer.annotated).decode()
        return JSONResponse(payload, headers=NO_STORE)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, problem: StarletteHTTPException) -> Response:
        if request.url.path.startswith(API):
            return JSONResponse({"detail": problem.detail}, status_code=problem.status_code,
                                headers=problem.headers)
        return HTMLResponse(f"<!doctype html><title>{problem.status_code}</title><p>{html.escape(str(problem.detail))}"
                            "</p>", status_code=problem.status_code)

    return app
