"""nicocomments: collect every comment of a Niconico video into a database."""

__version__ = "0.1.0"

__all__ = ["__version__"]
