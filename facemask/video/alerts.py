"""What happens on an event: a banner, a sound, a command."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from facemask.errors import FacemaskError
from facemask.video.events import Event


def sound_command() -> list[str] | None:
    """A command that plays a short alert sound here, or None (the terminal bell is then used)."""
    if sys.platform == "darwin" and shutil.which("afplay"):
        return ["afplay", "/System/Library/Sounds/Ping.aiff"]
    if sys.platform.startswith("linux"):
        for player, sound in (
            ("paplay", "/usr/share/sounds/freedesktop/stereo/bell.oga"),
            ("aplay", "/usr/share/sounds/alsa/Front_Center.wav"),
        ):
            if shutil.which(player) and Path(sound).is_file():
                return [player, sound]
    return None


def play_alert_sound() -> None:
    """A short alert sound without blocking: the system sound on Windows, a player on macOS/Linux, or the
    terminal bell; nothing at all (and no error) where none of these exists."""
    if sys.platform == "win32":
        import winsound

        winsound.MessageBeep(winsound.MB_ICONEXCLAMATION)
        return
    command = sound_command()
    if command is not None:
        try:
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            return
        except OSError:
            pass
    if sys.stderr.isatty():
        sys.stderr.write("\a")
        sys.stderr.flush()


def parse_command(text: str) -> list[str]:
    """`--alert-command` split as a shell would split it; an error if the program is not found."""
    try:
        argv = shlex.split(text, posix=sys.platform != "win32")
    except ValueError as problem:
        raise FacemaskError(f"cannot parse --alert-command ({problem}): {text}") from None
    if not argv or shutil.which(argv[0]) is None:
        raise FacemaskError(f"--alert-command program not found: {argv[0] if argv else text!r}")
    return argv


@dataclass
class Alerts:
    """What happens on an event: a banner on the frames while an unmasked face is seen, a sound, a command
    (which gets the event as JSON in the FACEMASK_EVENT environment variable)."""

    banner: bool = False
    sound: bool = False
    command: list[str] | None = None
    _running: list[subprocess.Popen] = field(default_factory=list)

    def fire(self, event: Event) -> None:
        if self.sound:
            play_alert_sound()
        if self.command:
            self._running = [process for process in self._running if process.poll() is None]
            environment = {**os.environ, "FACEMASK_EVENT": json.dumps(event.to_json())}
            self._running.append(subprocess.Popen(self.command, stdin=subprocess.DEVNULL, env=environment))

    def close(self, timeout: float = 10.0) -> None:
        """Wait (up to `timeout` seconds each) for alert commands still running."""
        for process in self._running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        self._running = []
