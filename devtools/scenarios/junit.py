"""JUnit XML for CI: one testcase per scenario (classname: its file), a failure or an error with its
reasons as the message and the timeline and what each party heard as the text."""
from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from .drive import Result
from .report import details, file_name


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    """Text XML 1.0 can carry (control characters out)."""
    return _NOT_XML.sub("?", text)


def document(results: list[Result], *, name: str = "handoff-scenarios") -> ET.ElementTree:
    """The XML tree: <testsuites><testsuite> with one <testcase> per scenario."""
    failures = sum(r.status == "fail" for r in results)
    errors = sum(r.status == "error" for r in results)
    total = sum(r.seconds for r in results)
    suites = ET.Element("testsuites", name=name, tests=str(len(results)), failures=str(failures),
                        errors=str(errors), time=f"{total:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=name, tests=str(len(results)), failures=str(failures),
                          errors=str(errors), skipped="0", time=f"{total:.3f}", hostname=socket.gethostname(),
                          timestamp=datetime.now(timezone.utc).replace(microsecond=0).isoformat())
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=file_name(r), name=r.scenario.name, time=f"{r.seconds:.3f}")
        if r.error:
            ET.SubElement(case, "error", message=_xml(r.error), type="ScenarioError").text = _xml(details(r))
        elif r.failures:
            ET.SubElement(case, "failure", message=_xml("; ".join(r.failures)),
                          type="ExpectationFailed").text = _xml(details(r))
    ET.indent(suites)
    return ET.ElementTree(suites)


def write(results: list[Result], path: str | Path) -> None:
    """Write the JUnit XML file (its directory is made if needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document(results).write(path, encoding="utf-8", xml_declaration=True)
