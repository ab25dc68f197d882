"""What a render produced: the renderer fills it in, services.snapshot_complete stores it.

Plain data, no imports beyond the standard library: the web processes import this (through
services) without loading the extraction libraries or Playwright.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PageMetadata:
    """What a page says about itself; "" for what it does not say (extract.extract_metadata)."""

    title: str = ""
    description: str = ""
    language: str = ""
    canonical_url: str = ""
    favicon_url: str = ""
    preview_image_url: str = ""
    site_name: str = ""
    author: str = ""
    published: str = ""


@dataclass
class Capture:
    """What a render produced: the response, the page's metadata, and the artifacts' bytes."""

    final_url: str = ""
    redirect_chain: list | None = None
    http_status: int | None = None
    content_type: str = ""
    meta: PageMetadata = field(default_factory=PageMetadata)
    text: str = ""
    screenshot: bytes | None = None
    thumbnail: bytes | None = None
    pdf: bytes | None = None
    html: str | None = None
    original: bytes | None = None
    original_type: str = ""
    favicon: bytes | None = None
    favicon_type: str = ""
