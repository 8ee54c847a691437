"""The monitor's settings: the server, the event store, notifications (webhook, MQTT), privacy and the cameras,
from a TOML file and the command line; every default is here. Stream credentials and the MQTT password are kept
out of everything shown (`redact_source`, fields without repr)."""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from facemask import defaults
from facemask.errors import FacemaskError, SettingError
from facemask.settings import CropSettings, PipelineConfig
from facemask.video.sources import is_stream, parse_source

TOKEN_ENVIRONMENT = "FACEMASK_TOKEN"
MQTT_PASSWORD_ENVIRONMENT = "FACEMASK_MQTT_PASSWORD"
CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
HOST_NAME = re.compile(r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,252})?$|^\[[0-9A-Fa-f:.]+\]$")
TOPIC_PART = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
LOOPBACK_NAMES = {"localhost"}
# The Host header values every server answers (with or without a port): its loopback names and addresses.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")

# The pipeline settings a [pipeline] or [[camera]] table takes: PipelineConfig's fields, the crop's flattened.
PIPELINE_KEYS = {
    "model",
    "detector",
    "confidence",
    "face_folder",
    "detection_size",
    "unmasked_threshold",
    "crop_margin",
    "square_crop",
    "threads",
}

Polygon = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class CameraConfig:
    """One camera: a name (URL-safe), its source (camera index, video file or stream URL), its pipeline (the
    live-video tool's, `camera_pipeline`) and how it runs.

    `loop` starts a video file over at its end; `realtime` reads a video file at its own frame rate and skips
    the frames the pipeline cannot keep up with, as a camera does (otherwise every frame is processed, as fast
    as possible). Both only concern video files.
    """

    name: str
    source: str
    pipeline: PipelineConfig = field(default_factory=lambda: camera_pipeline(PipelineConfig()))
    classify_every: int = defaults.CLASSIFY_EVERY
    loop: bool = False
    realtime: bool = True
    zones: tuple[Polygon, ...] = ()  # polygons in fractions of the frame (x, y from the top left); () = everywhere

    @property
    def kind(self) -> str:
        parsed = parse_source(self.source)
        if isinstance(parsed, int):
            return "camera"
        return "stream" if is_stream(parsed) else "file"

    @property
    def shown_source(self) -> str:
        """The source as pages, API answers and logs show it: without credentials or query string."""
        return redact_source(self.source)


@dataclass(frozen=True)
class StoreConfig:
    """Retention: snapshots are removed after `snapshot_days` or when they take more than `snapshot_megabytes`
    (oldest first); events and per-minute counts are removed after `event_days`."""

    snapshot_days: float = 30.0
    snapshot_megabytes: float = 2048.0
    event_days: float = 365.0


@dataclass(frozen=True)
class WebhookConfig:
    """An outbound POST of every event's JSON to `url`, retried `retries` times with back-off."""

    url: str | None = None
    timeout: float = 5.0
    retries: int = 5
    queue: int = 1000


@dataclass(frozen=True)
class NotifyConfig:
    """When an event becomes a notification (webhook POST, MQTT event message), per camera: once `min_flagged`
    flagged people were seen within `window` seconds, and at most one every `cooldown` seconds. Events held back
    are still stored and counted."""

    cooldown: float = 60.0
    min_flagged: int = 1
    window: float = 60.0


@dataclass(frozen=True)
class MqttConfig:
    """Publishing to an MQTT broker (off without `host`), with Home Assistant discovery. The password comes from
    the environment variable named `password_env`, never from the file."""

    host: str | None = None
    port: int = 1883
    user: str | None = None
    password_env: str = MQTT_PASSWORD_ENVIRONMENT
    password: str | None = field(default=None, repr=False)  # read from the environment by finish_config
    tls: bool = False
    ca_file: Path | None = None
    topic_prefix: str = "facemask"
    discovery_prefix: str = "homeassistant"
    client_id: str = "facemask-serve"
    state_every: float = 10.0  # seconds between state messages (counts, FPS) per camera
    keepalive: int = 30
    queue: int = 1000


@dataclass(frozen=True)
class PrivacyConfig:
    """Faces not flagged (masked, or outside a zone) are blurred in every picture the server shows or keeps."""

    blur_unflagged: bool = True


@dataclass(frozen=True)
class ServeConfig:
    """Everything `facemask-serve` runs with."""

    cameras: tuple[CameraConfig, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8080
    data: Path = Path("facemask-data")
    token: str | None = None
    allowed_hosts: tuple[str, ...] = ()  # Host header names answered besides the loopback ones ("*": any)
    max_upload_bytes: int = 20 * 1024 * 1024
    max_upload_pixels: int = 50_000_000
    photo_workers: int = 1
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)  # the photo endpoint's ([pipeline])
    store: StoreConfig = field(default_factory=StoreConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)

    def with_model(self, model: Path) -> ServeConfig:
        """The same settings with every pipeline (the photo endpoint's and each camera's) on `model`."""
        return replace(
            self,
            pipeline=replace(self.pipeline, model=model),
            cameras=tuple(replace(camera, pipeline=replace(camera.pipeline, model=model)) for camera in self.cameras),
        )

    @property
    def needs_token(self) -> bool:
        """Whether the address is reachable from other machines, so every request must carry the token."""
        return not is_loopback(self.host)

    @property
    def answered_hosts(self) -> tuple[str, ...]:
        """The Host header names the server answers: loopback, `allowed_hosts`, and the address it listens on
        when that is one address (not 0.0.0.0 or ::)."""
        listening = () if self.host in ("0.0.0.0", "::", "") else (f"[{self.host}]" if ":" in self.host else self.host,)
        return tuple(dict.fromkeys(name.lower() for name in (*LOOPBACK_HOSTS, *listening, *self.allowed_hosts)))


def redact_source(source: str) -> str:
    """A source without what may hold secrets: the user and password of a URL, and its query and fragment
    (`rtsp://user:pass@10.0.0.5:554/stream1?token=x` -> `rtsp://10.0.0.5:554/stream1`)."""
    if not is_stream(source):
        return source
    try:
        parts = urlsplit(source)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, host + port, parts.path, "", ""))
    except ValueError:
        return source.split("://", 1)[0] + "://(hidden)"


def scrub(message: str, secrets: list[str]) -> str:
    """`message` with every full source (which may carry credentials) replaced by its redacted form."""
    for secret in secrets:
        if secret and is_stream(secret):
            message = message.replace(secret, redact_source(secret))
    return message


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (127.0.0.0/8, ::1) or localhost."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise FacemaskError(f"config file not found: {path}") from None
    except OSError as error:
        raise FacemaskError(f"cannot read config file {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise FacemaskError(f"config file is not valid TOML ({error}): {path}") from None


def _take(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = None) -> Any:
    """`table[key]` checked to be of `kind` (absent: `default`); an error naming the setting otherwise."""
    if key not in table:
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise FacemaskError(f"{where}.{key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds):
        raise FacemaskError(f"{where}.{key} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    return value


def _check_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise FacemaskError(f"unknown setting{'s' if len(unknown) > 1 else ''} in [{where}]: {', '.join(unknown)}")


def camera_pipeline(site: PipelineConfig) -> PipelineConfig:
    """A camera's pipeline before its own table: the live-video tool's detector (one YuNet pass per frame) with
    the site's classifier settings (`site`: the [pipeline] table's model, threshold and crop), its classifier on
    one thread (the cameras already run side by side, a thread each)."""
    return PipelineConfig.video(model=site.model, unmasked_threshold=site.unmasked_threshold, crop=site.crop, threads=1)


def pipeline_from_table(table: dict[str, Any], base: PipelineConfig, where: str, folder: Path) -> PipelineConfig:
    """`base` with the pipeline settings of a [pipeline] or [[camera]] table (PIPELINE_KEYS; paths relative to
    `folder`, the config file's); an error naming `where`.key for a bad value."""
    changes: dict[str, Any] = {}
    for key, kind in (
        ("detector", str),
        ("confidence", float),
        ("detection_size", int),
        ("unmasked_threshold", float),
        ("threads", int),
    ):
        if key in table:
            changes[key] = _take(table, key, kind, where)
    for key in ("model", "face_folder"):
        if key in table:
            changes[key] = folder / _take(table, key, str, where)
    if "face_folder" in changes and "detector" not in changes:
        changes["detector"] = "ssd"  # as the tools' --face
    margin = _take(table, "crop_margin", float, where, base.crop.margin)
    square = _take(table, "square_crop", bool, where, base.crop.square)
    try:
        return replace(base, crop=CropSettings(margin, square), **changes)
    except SettingError as problem:
        raise problem.named(f"{where}.{problem.setting}") from None


def camera_from_table(table: dict[str, Any], number: int, site: PipelineConfig, folder: Path) -> CameraConfig:
    """One `[[camera]]` table (`site`: the [pipeline] settings its pipeline starts from; `folder`: the config
    file's)."""
    where = f"camera {number}"
    _check_unknown(table, {"name", "source", "classify_every", "loop", "realtime", "zones", *PIPELINE_KEYS}, where)
    source = _take(table, "source", (str, int), where)
    if source is None:
        raise FacemaskError(f"[[camera]] {number} has no 'source'")
    base = CameraConfig(name=_take(table, "name", str, where, f"camera{number}"), source=str(source))
    return replace(
        base,
        pipeline=pipeline_from_table(table, camera_pipeline(site), where, folder),
        classify_every=_take(table, "classify_every", int, where, base.classify_every),
        loop=_take(table, "loop", bool, where, base.loop),
        realtime=_take(table, "realtime", bool, where, base.realtime),
        zones=parse_zones(_take(table, "zones", list, where, []), f"{where} ({base.name}).zones"),
    )


def parse_zones(value: list, where: str) -> tuple[Polygon, ...]:
    """`zones = [[[x, y], [x, y], [x, y], ...], ...]`: polygons of at least 3 points, each coordinate a fraction
    of the frame's width or height (0 to 1)."""
    zones = []
    for number, polygon in enumerate(value, 1):
        if not isinstance(polygon, list) or len(polygon) < 3:
            raise FacemaskError(f"{where}: zone {number} must be a list of at least 3 [x, y] points")
        points = []
        for point in polygon:
            if (
                not isinstance(point, list)
                or len(point) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
                or not all(0.0 <= v <= 1.0 for v in point)
            ):
                raise FacemaskError(
                    f"{where}: zone {number} has a point that is not [x, y] with x and y from 0 to 1 "
                    f"(fractions of the frame): {point!r}"
                )
            points.append((float(point[0]), float(point[1])))
        zones.append(tuple(points))
    return tuple(zones)


def camera_from_argument(text: str, number: int, site: PipelineConfig) -> CameraConfig:
    """A `--source` value: `SOURCE` or `NAME=SOURCE` (a name of letters, digits, `_.-` before the first `=`); its
    pipeline from the site's ([pipeline]) settings."""
    name, _, rest = text.partition("=")
    if not (rest and "://" not in name and CAMERA_NAME.match(name)):
        name, rest = f"camera{number}", text
    return CameraConfig(name=name, source=rest, pipeline=camera_pipeline(site))


def load_config(path: str | Path | None) -> ServeConfig:
    """The settings in a TOML file (None: the defaults, no camera)."""
    if path is None:
        return ServeConfig()
    path = Path(path)
    document = _load_toml(path)
    _check_unknown(
        document, {"server", "store", "webhook", "notify", "mqtt", "privacy", "pipeline", "camera"}, "top level"
    )
    for table in ("server", "store", "webhook", "notify", "mqtt", "privacy", "pipeline"):
        if not isinstance(document.get(table, {}), dict):
            raise FacemaskError(f"[{table}] must be a table: {path}")
    server = document.get("server", {})
    _check_unknown(
        server,
        {"host", "port", "data", "token", "allowed_hosts", "max_upload_bytes", "max_upload_pixels", "photo_workers"},
        "server",
    )
    store = document.get("store", {})
    _check_unknown(store, {"snapshot_days", "snapshot_megabytes", "event_days"}, "store")
    webhook = document.get("webhook", {})
    _check_unknown(webhook, {"url", "timeout", "retries", "queue"}, "webhook")
    notify = document.get("notify", {})
    _check_unknown(notify, {"cooldown", "min_flagged", "window"}, "notify")
    mqtt = document.get("mqtt", {})
    if "password" in mqtt:
        raise FacemaskError(
            "mqtt.password is not read from the file: put it in the environment variable named by "
            f"mqtt.password_env (default {MQTT_PASSWORD_ENVIRONMENT})"
        )
    _check_unknown(
        mqtt,
        {
            "host",
            "port",
            "user",
            "password_env",
            "tls",
            "ca_file",
            "topic_prefix",
            "discovery_prefix",
            "client_id",
            "state_every",
            "keepalive",
            "queue",
        },
        "mqtt",
    )
    privacy = document.get("privacy", {})
    _check_unknown(privacy, {"blur_unflagged"}, "privacy")
    pipeline = document.get("pipeline", {})
    _check_unknown(pipeline, PIPELINE_KEYS, "pipeline")
    cameras = document.get("camera", [])
    if not isinstance(cameras, list):
        raise FacemaskError(f"cameras are [[camera]] tables: {path}")
    config = ServeConfig()
    data = _take(server, "data", str, "server")
    hosts = _take(server, "allowed_hosts", list, "server", [])
    if not all(isinstance(host, str) for host in hosts):
        raise FacemaskError(f"server.allowed_hosts must be a list of host names, got {hosts!r}")
    ca_file = _take(mqtt, "ca_file", str, "mqtt")
    base_mqtt = MqttConfig()
    mqtt_config = MqttConfig(
        host=_take(mqtt, "host", str, "mqtt", None),
        port=_take(mqtt, "port", int, "mqtt", base_mqtt.port),
        user=_take(mqtt, "user", str, "mqtt", None),
        password_env=_take(mqtt, "password_env", str, "mqtt", base_mqtt.password_env),
        tls=_take(mqtt, "tls", bool, "mqtt", base_mqtt.tls),
        ca_file=(path.parent / ca_file) if ca_file else None,
        topic_prefix=_take(mqtt, "topic_prefix", str, "mqtt", base_mqtt.topic_prefix),
        discovery_prefix=_take(mqtt, "discovery_prefix", str, "mqtt", base_mqtt.discovery_prefix),
        client_id=_take(mqtt, "client_id", str, "mqtt", base_mqtt.client_id),
        state_every=_take(mqtt, "state_every", float, "mqtt", base_mqtt.state_every),
        keepalive=_take(mqtt, "keepalive", int, "mqtt", base_mqtt.keepalive),
        queue=_take(mqtt, "queue", int, "mqtt", base_mqtt.queue),
    )
    relative = path.parent  # paths in the file are relative to the file
    site = pipeline_from_table(pipeline, config.pipeline, "pipeline", relative)
    return replace(
        config,
        cameras=tuple(camera_from_table(table, number, site, relative) for number, table in enumerate(cameras, 1)),
        host=_take(server, "host", str, "server", config.host),
        port=_take(server, "port", int, "server", config.port),
        data=(relative / data) if data else config.data,
        token=_take(server, "token", str, "server", None),
        allowed_hosts=tuple(hosts),
        max_upload_bytes=_take(server, "max_upload_bytes", int, "server", config.max_upload_bytes),
        max_upload_pixels=_take(server, "max_upload_pixels", int, "server", config.max_upload_pixels),
        photo_workers=_take(server, "photo_workers", int, "server", config.photo_workers),
        pipeline=site,
        store=StoreConfig(
            _take(store, "snapshot_days", float, "store", StoreConfig.snapshot_days),
            _take(store, "snapshot_megabytes", float, "store", StoreConfig.snapshot_megabytes),
            _take(store, "event_days", float, "store", StoreConfig.event_days),
        ),
        webhook=WebhookConfig(
            _take(webhook, "url", str, "webhook", None),
            _take(webhook, "timeout", float, "webhook", WebhookConfig.timeout),
            _take(webhook, "retries", int, "webhook", WebhookConfig.retries),
            _take(webhook, "queue", int, "webhook", WebhookConfig.queue),
        ),
        notify=NotifyConfig(
            _take(notify, "cooldown", float, "notify", NotifyConfig.cooldown),
            _take(notify, "min_flagged", int, "notify", NotifyConfig.min_flagged),
            _take(notify, "window", float, "notify", NotifyConfig.window),
        ),
        mqtt=mqtt_config,
        privacy=PrivacyConfig(_take(privacy, "blur_unflagged", bool, "privacy", PrivacyConfig.blur_unflagged)),
    )


def finish_config(config: ServeConfig, environment: Mapping[str, str] | None = None) -> ServeConfig:
    """The config checked as a whole, with the token from the environment (FACEMASK_TOKEN) where the file has
    none: an error for bad values, duplicate camera names, and an address other machines reach without a token."""
    variables = os.environ if environment is None else environment
    token = config.token or variables.get(TOKEN_ENVIRONMENT) or None
    config = replace(config, token=token)
    if not config.cameras:
        raise FacemaskError("no camera: give [[camera]] tables in --config or --source")
    names = [camera.name for camera in config.cameras]
    for camera in config.cameras:
        if not CAMERA_NAME.match(camera.name):
            raise FacemaskError(f"camera name must be 1-64 letters, digits, '_', '.' or '-': {camera.name!r}")
        if names.count(camera.name) > 1:
            raise FacemaskError(f"two cameras are named {camera.name!r}")
        if camera.classify_every < 1:
            raise FacemaskError(f"camera {camera.name}: classify_every must be at least 1")
        if not camera.source.strip():
            raise FacemaskError(f"camera {camera.name} has an empty source")
    if not 0 <= config.port <= 65535:
        raise FacemaskError(f"port must be 0-65535, got {config.port}")
    if config.max_upload_bytes < 1024 or config.max_upload_pixels < 1024:
        raise FacemaskError("max_upload_bytes and max_upload_pixels must be at least 1024")
    if not 1 <= config.photo_workers <= 16:
        raise FacemaskError(f"photo_workers must be 1-16, got {config.photo_workers}")
    if min(config.store.snapshot_days, config.store.snapshot_megabytes, config.store.event_days) <= 0:
        raise FacemaskError("store retention settings must be above 0")
    if config.webhook.url is not None and not config.webhook.url.startswith(("http://", "https://")):
        raise FacemaskError(f"webhook url must start with http:// or https://: {redact_source(config.webhook.url)}")
    if config.webhook.retries < 0 or config.webhook.timeout <= 0 or config.webhook.queue < 1:
        raise FacemaskError("webhook retries must be 0 or more, timeout above 0 and queue at least 1")
    for host in config.allowed_hosts:
        if host != "*" and not HOST_NAME.match(host):
            raise FacemaskError(f"server.allowed_hosts: not a host name (no port, no scheme): {host!r}")
    notify = config.notify
    if notify.cooldown < 0 or notify.window <= 0 or notify.min_flagged < 1:
        raise FacemaskError("notify cooldown must be 0 or more, window above 0 and min_flagged at least 1")
    config = replace(config, mqtt=check_mqtt(config.mqtt, variables))
    if config.needs_token and not config.token:
        raise FacemaskError(
            f"listening on {config.host} (not loopback) needs an access token: set token in "
            f"[server] or the {TOKEN_ENVIRONMENT} environment variable"
        )
    if config.token is not None and len(config.token) < 8:
        raise FacemaskError("the access token must be at least 8 characters")
    return config


def check_mqtt(mqtt: MqttConfig, environment) -> MqttConfig:
    """The [mqtt] settings checked, with the password read from the environment (never shown)."""
    if mqtt.host is None:
        return mqtt
    if not mqtt.host.strip() or "://" in mqtt.host or "/" in mqtt.host:
        raise FacemaskError(f"mqtt.host must be a host name or address (no scheme): {redact_source(mqtt.host)}")
    if not 1 <= mqtt.port <= 65535:
        raise FacemaskError(f"mqtt.port must be 1-65535, got {mqtt.port}")
    for name in ("topic_prefix", "discovery_prefix"):
        if not TOPIC_PART.match(getattr(mqtt, name)):
            raise FacemaskError(
                f"mqtt.{name} must be letters, digits, '_' or '-' in parts joined by '/', got {getattr(mqtt, name)!r}"
            )
    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", mqtt.client_id):
        raise FacemaskError(f"mqtt.client_id must be 1-64 letters, digits, '_' or '-', got {mqtt.client_id!r}")
    if mqtt.state_every <= 0 or mqtt.keepalive < 5 or mqtt.queue < 1:
        raise FacemaskError("mqtt state_every must be above 0, keepalive at least 5 and queue at least 1")
    if mqtt.ca_file is not None and not mqtt.tls:  # the user meant TLS: never send the password in the clear
        raise FacemaskError("mqtt.ca_file is for TLS connections: set mqtt.tls = true")
    if mqtt.ca_file is not None and not mqtt.ca_file.is_file():
        raise FacemaskError(f"mqtt.ca_file not found: {mqtt.ca_file}")
    password = environment.get(mqtt.password_env) or None
    if password is not None and mqtt.user is None:
        raise FacemaskError(f"the MQTT password in {mqtt.password_env} needs mqtt.user")
    return replace(mqtt, password=password)
