#!/usr/bin/env python3
"""Summarize batch results: python summarize_results.py results.jsonl [more.jsonl ...] [--merge all.jsonl]"""

from facemask.cli.summarize import entry_point

if __name__ == "__main__":
    entry_point()
