"""GitHub code scanning's requirements on an uploaded SARIF file, as checks (used by the output tests and by
the hostile suite on every input it builds)."""

from qadiag.findings import CODES


def check_github_sarif(document):
    """What GitHub code scanning requires of an uploaded SARIF file (docs.github.com, "SARIF support for
    code scanning", and the upload's processing errors: a result without a location makes GitHub refuse the
    whole file, "locationFromSarifResult: expected at least one location")."""
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]  # runs[] must be present; one run per tool
    driver = run["tool"]["driver"]
    assert driver["name"] == "qadiag" and isinstance(driver["version"], str)
    rules = driver["rules"]
    assert len({rule["id"] for rule in rules}) == len(rules)
    for rule in rules:  # reportingDescriptor: id, shortDescription, fullDescription, help (GH2012)
        assert rule["id"] in CODES
        for text in (rule["shortDescription"]["text"], rule["fullDescription"]["text"], rule["help"]["text"]):
            assert isinstance(text, str) and text.strip()
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run["results"]) <= 1000  # results shown per run by default (GH1004)
    for result in run["results"]:
        assert result["ruleId"] in {rule["id"] for rule in rules}
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note", "none")
        assert result["message"]["text"].strip()
        places = result["locations"] + result.get("relatedLocations", [])
        assert len(result["locations"]) >= 1 and len(places) <= 10  # at most 10 shown (GH1004)
        for location in places:
            physical = location["physicalLocation"]
            uri = physical["artifactLocation"]["uri"]
            # a relative path (GH1005: relative, or file: URIs) to a file, never a directory
            assert uri and not uri.startswith(("/", "http:", "https:")) and not uri.endswith("/")
            assert isinstance(physical["region"]["startLine"], int) and physical["region"]["startLine"] >= 1  # GH1003
        assert all(isinstance(value, str) for value in result["partialFingerprints"].values())
    for invocation in run.get("invocations", []):
        assert isinstance(invocation["executionSuccessful"], bool)
