"""Command-line front ends: each module parses arguments and calls the package."""
