"""What the console's overview shows: the active policy and snapshot, in the figures of the
batch run that made the snapshot (``snapshot_report``), never recomputed here.

The report is read from the snapshot directory (checked against the SHA-256 the snapshot
names) once per snapshot and worker, and kept: the overview then costs a template render.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from creditgate.lab.html import apr_chart, limit_chart, score_chart
from creditgate.service.deps import Services
from creditgate.service.snapshot_files import read_report, snapshot_directory
from creditgate.service.web.render import fragment
from creditgate.snapshot import SnapshotError
from creditgate.snapshot_report import ReportRef


@dataclass
class ReportCache:
    """The active snapshot's report, by snapshot id (one entry: the active one), and its
    rendering per language: the figures do not change while the snapshot is live, so the
    overview renders them once (the regions table alone is hundreds of rows)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    key: str | None = None
    report: dict[str, Any] | None = None
    html: dict[str, Markup] = field(default_factory=dict)

    def rendered(
        self, services: Services, snapshot_id: str, meta: dict[str, Any], lang: str
    ) -> Markup:
        """The report's part of the overview in ``lang`` (``LookupError`` as ``get``)."""
        report = self.get(services, snapshot_id, meta)
        with self.lock:
            found = self.html.get(lang) if self.key == snapshot_id else None
            if found is None:
                found = fragment(
                    "console/_report.html", lang, report=report, regions=regions(report),
                    charts=charts(report),
                )  # fmt: skip
                self.html[lang] = found
            return found

    def get(self, services: Services, snapshot_id: str, meta: dict[str, Any]) -> dict[str, Any]:
        """The report ``meta`` names; ``LookupError`` when it names none or it cannot be
        read intact (the overview then says so instead of showing other figures)."""
        with self.lock:
            if self.key == snapshot_id and self.report is not None:
                return self.report
            named = meta.get("report")
            if not named:
                raise LookupError("the snapshot names no run report")
            directory = snapshot_directory(services.settings)
            try:
                document = read_report(
                    directory, ReportRef.from_json(named), services.settings.db_url
                )
            except SnapshotError as exc:
                raise LookupError("the snapshot's run report is missing or changed") from exc
            self.key, self.report, self.html = snapshot_id, document, {}
            return document


def regions(report: dict[str, Any]) -> list[dict[str, Any]]:
    """``by_region`` with each city's quota (partly open classes), ordered by class and city."""
    quotas = report.get("cutoffs", {}).get("city_quotas", {})
    rows = []
    for r in report.get("by_region", []):
        quota = quotas.get(r["region_class"], {}).get(r["city"]) if r.get("city") else None
        rows.append({**r, "quota": quota})
    return sorted(
        rows, key=lambda r: (r["region_class"], r.get("province") or "", r.get("city") or "")
    )


def charts(report: dict[str, Any]) -> dict[str, Markup]:
    """The score, limit and APR distributions as inline SVG (drawn by ``lab.html`` from
    numbers only, so they are safe to embed)."""
    dist = report["distributions"]
    return {
        "score": Markup(score_chart(dist["score"])),
        "limit": Markup(limit_chart(dist["limit_cny"])),
        "apr": Markup(apr_chart(dist["apr"])),
    }
