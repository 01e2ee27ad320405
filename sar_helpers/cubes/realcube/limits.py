"""How much a catalog and a bucket may take of one ``realcube up``: the defaults of the command
line's --timeout, --deadline, --max-items and --max-pages (a module of its own, so that the command
line can show them without loading the cube machinery)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one ``realcube up`` lets the network take (the command line's options)."""

    #: Seconds to connect, and to wait for any byte, in one request.
    timeout: float = 30.0
    #: Seconds the whole catalog search may take; each file's download gets as long again.
    deadline: float = 600.0
    #: Items and pages the search may bring before it is refused as endless.
    max_items: int = 20_000
    max_pages: int = 2_000
    #: Bytes one catalog page, and one downloaded file, may hold.
    max_page_bytes: int = 64 << 20
    max_file_bytes: int = 2 << 30

    def __post_init__(self) -> None:
        for name in ("timeout", "deadline", "max_items", "max_pages"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be more than 0, not {value}.")

    @property
    def request_timeout(self) -> tuple[float, float]:
        return (min(self.timeout, 10.0), self.timeout)
