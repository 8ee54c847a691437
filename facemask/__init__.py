"""facemask: find faces in photos and video and tell whether each one wears a mask."""

__version__ = "1.0.0"
