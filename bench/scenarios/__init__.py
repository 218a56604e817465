"""Every scenario module; importing this package registers them all in bench.catalog."""

from bench.scenarios import spine

__all__ = ["spine"]
