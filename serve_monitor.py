#!/usr/bin/env python3
"""Serve a site's compliance monitor: python serve_monitor.py --config site.toml (docs/monitor.md)"""

from facemask.cli.serve import entry_point

if __name__ == "__main__":
    entry_point()
