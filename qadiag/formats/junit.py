"""JUnit XML: one test case per finding, a ``<failure>`` for each finding that fails the audit (errors;
warnings too with ``--strict``), the others passing with their message as output. A clean audit is a
suite of no test cases. Text from disk is escaped (:func:`escape`) before XML escaping, so the file holds
no character XML 1.0 forbids."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from qadiag.findings import Finding, is_failure, sort_key
from qadiag.formats.escaping import escape
from qadiag.formats.locations import display_path, file_location
from qadiag.formats.text import count_suffix

SUITE = "qadiag audit-logs"


def _case(item: Finding, strict: bool) -> ET.Element:
    location = file_location(item)
    place = f"{display_path(item)}:{location.start_line}" if location else display_path(item)
    case = ET.Element("testcase", classname=f"qadiag.{item.code}", name=escape(f"{item.code} {place}: {item.title}"))
    if location is not None:
        case.set("file", escape(location.path))
        case.set("line", str(location.start_line))
    details = "\n".join(
        (escape(f"{item.message}{count_suffix(item)}"), f"where: {escape(item.where)}", f"fix: {escape(item.fix)}")
    )
    if is_failure(item, strict):
        ET.SubElement(case, "failure", type=item.code, message=escape(item.message)).text = details
    else:
        ET.SubElement(case, "system-out").text = details
    return case


def format_junit(findings: Sequence[Finding], *, strict: bool = False) -> str:
    cases = [_case(item, strict) for item in sorted(findings, key=sort_key)]
    failures = str(sum(1 for case in cases if case.find("failure") is not None))
    counts = {"tests": str(len(cases)), "failures": failures, "errors": "0"}
    root = ET.Element("testsuites", name=SUITE, **counts)
    suite = ET.SubElement(root, "testsuite", name=SUITE, skipped="0", **counts)
    suite.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
