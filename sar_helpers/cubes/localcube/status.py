"""What ``sar-helpers testcube|realcube status`` reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: The dataset property that records which catalog a dataset was indexed from.
SOURCE_PROPERTY = "sar_helpers:source"


@dataclass
class Status:
    title: str
    command: str
    folder: Path
    server: str
    db_url: str
    products: list[str] = field(default_factory=list)
    datasets: dict[str, Counter] = field(default_factory=dict)
    #: Datasets per recorded source (:data:`SOURCE_PROPERTY`), per product.
    sources: dict[str, Counter] = field(default_factory=dict)
    disk_bytes: int = 0

    def count(self, product: str, datasets: list[tuple[int, dict]]) -> None:
        """Record a product's datasets, as (year, metadata document) pairs: per year, and per source."""
        self.datasets[product] = Counter(year for year, _ in datasets)
        recorded = (doc.get("properties", {}).get(SOURCE_PROPERTY) for _, doc in datasets)
        self.sources[product] = Counter(str(source) for source in recorded if source)

    def report(self) -> str:
        lines = [
            f"{self.title} in {self.folder}",
            f"  server:   {self.server}",
            f"  database: {self.db_url}",
            f"  config:   {self.folder / 'datacube.conf'} (export ODC_CONFIG_PATH=...)",
            f"  disk:     {self.disk_bytes / 2**20:.1f} MiB",
        ]
        for name in self.products:
            per_year = self.datasets.get(name, Counter())
            lines.append(f"  {name}: {sum(per_year.values())} datasets")
            for source, count in sorted(self.sources.get(name, Counter()).items()):
                lines.append(f"    from {source}: {count}")
            for year in sorted(per_year):
                lines.append(f"    {year}: {per_year[year]}")
        if not self.products and self.server.startswith("running"):
            lines.append(f"  no products yet: run `sar-helpers {self.command} up`")
        return "\n".join(lines)
