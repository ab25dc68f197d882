"""What a render produced: the renderer fills it in, services.snapshot_complete stores it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Capture:
    """What a render produced; the renderer fills it, this module stores it."""

    final_url: str = ""
    redirect_chain: list | None = None
    http_status: int | None = None
    content_type: str = ""
    title: str = ""
    description: str = ""
    language: str = ""
    canonical_url: str = ""
    favicon_url: str = ""
    preview_image_url: str = ""
    text: str = ""
    screenshot: bytes | None = None
    thumbnail: bytes | None = None
    pdf: bytes | None = None
    html: str | None = None
    original: bytes | None = None
    original_type: str = ""
    favicon: bytes | None = None
    favicon_type: str = ""
