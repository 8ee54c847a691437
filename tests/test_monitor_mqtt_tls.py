"""MQTT over TLS against a real broker: Debian's mosquitto (test_monitor_site's, with a password) with one TLS-only
listener on a free loopback port, its certificates made here by the `openssl` command from throwaway CAs and valid
for 127.0.0.1 (an IP subjectAltName, so the host name stays checked). `MqttPublisher`, built from a checked
`MqttConfig` with `tls` and `ca_file` (the password from the environment as the server reads it), publishes the
retained discovery configs, availability and states over TLS where the broker's certificate is signed by `ca_file`;
where it is not (another CA, the system's CAs, or a certificate for another host) nothing reaches the broker, the
publisher stays disconnected with a warning saying why, and never holds up its caller."""

from __future__ import annotations

import json
import logging
import shutil
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from facemask.monitor.config import MqttConfig, check_mqtt
from facemask.monitor.mqtt import MqttPublisher

pytest.importorskip("paho.mqtt.client", reason="the MQTT test needs paho-mqtt (the 'serve' extra)")

from test_monitor import wait_for as poll
from test_monitor_site import MQTT_PASSWORD, MQTT_USER, Listener, mosquitto

PREFIX = "site9/facemask"
CAMERAS = ["door", "hall"]
TIMEOUT = 15  # seconds for anything on the loopback broker (a busy machine included)
EXTENSIONS = (  # a server certificate Python's strict X.509 checks accept
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
)


def openssl(folder: Path, *arguments: str) -> None:
    subprocess.run(["openssl", *arguments], cwd=folder, check=True, capture_output=True)


def certificate_authority(folder: Path, name: str) -> Path:
    """A throwaway CA: `name`.crt and `name`.key (EC P-256, two days)."""
    openssl(
        folder,
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"),
        *("-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN=facemask test {name}"),
        *("-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    )
    return folder / f"{name}.crt"


def server_certificate(folder: Path, name: str, ca: str, alt_name: str) -> tuple[Path, Path]:
    """A server certificate `name`.crt for `alt_name` (`IP:...` or `DNS:...`) signed by the CA `ca`, and its key."""
    (folder / f"{name}.ext").write_text(f"subjectAltName={alt_name}\n{EXTENSIONS}")
    openssl(
        folder,
        *("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}"),
    )
    openssl(
        folder,
        *("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial"),
        *("-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt"),
    )
    return folder / f"{name}.crt", folder / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """CAs `site` and `other`; server certificates `broker` (site's, for 127.0.0.1), `foreign` (other's, for
    127.0.0.1) and `misnamed` (site's, for mqtt.invalid)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("pki")
    certificate_authority(folder, "site")
    certificate_authority(folder, "other")
    server_certificate(folder, "broker", "site", "IP:127.0.0.1")
    server_certificate(folder, "foreign", "other", "IP:127.0.0.1")
    server_certificate(folder, "misnamed", "site", "DNS:mqtt.invalid")
    return folder


def publisher_config(port: int, ca_file: Path | None, client_id: str) -> MqttConfig:
    """The [mqtt] settings as facemask-serve has them after its checks, the password read from the environment."""
    config = MqttConfig(
        host="127.0.0.1", port=port, user=MQTT_USER, tls=True, ca_file=ca_file, topic_prefix=PREFIX, client_id=client_id
    )
    return check_mqtt(config, {config.password_env: MQTT_PASSWORD})


def wait_for(condition, what: str):
    return poll(condition, TIMEOUT, what, every=0.05)


def state_of(camera: str) -> dict:
    return {"online": True, "camera": camera, "people_today": 3, "masked_today": 2, "flagged_today": 1}


def test_discovery_availability_and_events_arrive_over_tls_checked_against_the_configured_ca(pki, tmp_path):
    with mosquitto(tmp_path, tls=(pki / "broker.crt", pki / "broker.key")) as port:
        publisher = MqttPublisher(publisher_config(port, pki / "site.crt", "facemask-tls"), CAMERAS, state_of, "9.9")
        publisher.start()
        wait_for(lambda: publisher.connected, "the publisher to connect over TLS")
        connection = publisher.client.socket()
        assert isinstance(connection, ssl.SSLSocket) and connection.version() in ("TLSv1.2", "TLSv1.3")
        assert connection.getpeercert()["subjectAltName"] == (("IP Address", "127.0.0.1"),)
        expected = {
            f"{PREFIX}/status": "online",
            **{topic: json.dumps(payload) for camera in CAMERAS for topic, payload in publisher.discovery(camera)},
            **{publisher.state_topic(camera): json.dumps(state_of(camera)) for camera in CAMERAS},
        }
        assert len(expected) == 2 * 6 + 1 + 2
        wait_for(lambda: publisher.published >= len(expected), "the announcement to be published")
        # a subscriber arriving afterwards, also over TLS: everything announced comes to it retained
        listener = Listener(port, "tls-listener", ca_file=pki / "site.crt")
        try:
            wait_for(lambda: len(listener.matching(r".")) >= len(expected), "the retained messages")
            with listener.lock:
                received = {topic: (payload, retained) for topic, payload, retained in listener.messages}
            assert received == {topic: (payload, True) for topic, payload in expected.items()}
            configs = {topic: json.loads(payload) for topic, payload in expected.items() if "/config" in topic}
            assert sorted(config["unique_id"] for config in configs.values()) == sorted(
                f"site9_facemask_{camera}_{key}"
                for camera in CAMERAS
                for key in ("people_today", "masked_today", "flagged_today", "compliance_today", "fps", "online")
            )
            assert all(config["availability_topic"] == f"{PREFIX}/status" for config in configs.values())
            publisher.event({"camera": "door", "id": 7, "label": "without_mask"})
            event = wait_for(lambda: listener.on(f"{PREFIX}/door/event"), "the event")
            assert [json.loads(payload) for payload in event] == [{"camera": "door", "id": 7, "label": "without_mask"}]
            publisher.stop()
            wait_for(lambda: listener.on(f"{PREFIX}/status")[-1] == "offline", "offline after stop")
        finally:
            publisher.stop()
            listener.close()
    assert "as facemask-tls" in (tmp_path / "broker.log").read_text()


@pytest.mark.parametrize(
    ("server", "signer", "ca_file", "why"),
    [
        ("foreign", "other", "site.crt", "unable to get local issuer certificate"),
        ("foreign", "other", None, "unable to get local issuer certificate"),
        ("misnamed", "site", "site.crt", "IP address mismatch"),
    ],
    ids=["signed-by-another-ca", "system-cas-only", "certificate-for-another-host"],
)
def test_a_broker_certificate_not_trusted_for_the_host_gets_nothing_and_never_holds_up_the_caller(
    pki, tmp_path, caplog, server, signer, ca_file, why
):
    caplog.set_level(logging.WARNING, logger="facemask.monitor")
    client_id = f"facemask-refused-{server}"
    with mosquitto(tmp_path, tls=(pki / f"{server}.crt", pki / f"{server}.key")) as port:
        # a subscriber on everything, trusting the broker's real certificate: nothing from the publisher reaches it
        listener = Listener(port, "tls-listener", ca_file=pki / f"{signer}.crt", check_hostname=server != "misnamed")
        publisher = MqttPublisher(
            publisher_config(port, pki / ca_file if ca_file else None, client_id), CAMERAS, state_of
        )
        try:
            started = time.monotonic()
            publisher.start()
            assert time.monotonic() - started < 0.5, "start connects in the background"

            def refusals() -> list[str]:
                return [record.getMessage() for record in caplog.records if "cannot connect" in record.getMessage()]

            wait_for(lambda: publisher.connected or refusals(), "the refused TLS handshake to be logged")
            assert not publisher.connected, "connected to a broker whose certificate is not to be trusted"
            assert "CERTIFICATE_VERIFY_FAILED" in refusals()[0] and why in refusals()[0], refusals()
            started = time.monotonic()
            for number in range(50):
                publisher.event({"camera": "door", "id": number, "label": "without_mask"})
                publisher.state_changed("hall")
            assert time.monotonic() - started < 0.5, "event and state_changed never wait for the broker"
            time.sleep(1)  # the publisher thread takes the queue (within half a second)
            assert not publisher.connected and publisher.published == 0
            assert len(refusals()) == 1, "logged once, not at every attempt"
            alive = {thread.name for thread in threading.enumerate()}
            assert {"mqtt-publisher", f"paho-mqtt-client-{client_id}"} <= alive, "neither thread died"
            assert listener.messages == []
            started = time.monotonic()
            publisher.stop()
            assert time.monotonic() - started < 3, "stop does not wait out the back-off"
        finally:
            publisher.stop()
            listener.close()
    log = (tmp_path / "broker.log").read_text()
    assert "as tls-listener" in log and f"as {client_id}" not in log, log
