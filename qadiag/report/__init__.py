"""``qadiag report``: a run dir -> ``report.html`` (plots, findings, samples; self-contained) and ``report.md``.

    from qadiag.report import write_report
    paths = write_report(run_dir)            # ReportPaths(html=..., markdown=..., step_summary=...)

Importing this package is cheap: matplotlib loads only when a plot is drawn, torch and transformers
never. The modules, one concern each: ``files`` (bounded, link-free reads), ``rundir`` (what a run dir
holds), ``samples``, ``probe_report`` and ``curves`` (its parts), ``build`` (what the report says),
``plots``, ``html`` and ``markdown`` (how it looks), ``write`` (the files) and ``command`` (the CLI).
"""

from __future__ import annotations

from qadiag.report.write import ReportPaths, write_report

__all__ = ["ReportPaths", "write_report"]
