"""``qadiag report``: a run dir -> ``report.html`` (plots, findings, samples; self-contained) and ``report.md``.

    from qadiag.report import write_report
    paths = write_report(run_dir)            # ReportPaths(html=..., markdown=..., step_summary=...)

Importing this package and writing a report are cheap: no torch, transformers or plotting library.
The modules, one concern each:

- reading: ``files`` (bounded, link-free reads), ``rundir`` (what a run dir holds), and its parts
  ``samples`` (samples.jsonl), ``probe_report`` (qadiag_report.json) and ``curves`` (log_history);
- saying: ``document`` (sections of blocks) and ``build`` (what each section says);
- showing: ``plots`` (inline SVG, written directly), ``html``, ``markdown`` and ``text`` (shared formatting);
- ``write`` (the files and the job summary) and ``command`` (``qadiag report``).
"""

from __future__ import annotations

from qadiag.report.write import ReportPaths, write_report

__all__ = ["ReportPaths", "write_report"]
