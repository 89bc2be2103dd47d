"""PlatformIO development platform for tinyml's bare-metal boards (used offline)."""

from platformio.public import PlatformBase


class TinymlbaremetalPlatform(PlatformBase):
    """Board details live in boards/<name>/board.toml; the builder reads them."""
