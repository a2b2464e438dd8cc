"""The benchmark report's partial update (benchmarks/report.py)."""

from types import SimpleNamespace

from benchmarks import report

OLD = """# Benchmarks

## Machine

| | |

## First

about first

old first figures

## Second

about second

old second figures
"""


def _case(title):
    return SimpleNamespace(TITLE=title, ABOUT=f"about {title.lower()}")


def test_update_replaces_only_the_cases_run():
    text = report.update(OLD, [(_case("First"), ["new first figures"])], "from run X")
    assert "old first figures" not in text
    assert "from run X\n\nnew first figures" in text
    assert "old second figures" in text  # untouched
    assert text.index("## First") < text.index("## Second")


def test_update_replaces_the_last_section_to_the_end():
    text = report.update(OLD, [(_case("Second"), ["new second"])], "from run Y")
    assert text.endswith("from run Y\n\nnew second\n")
    assert "old first figures" in text and "old second figures" not in text


def test_update_appends_a_case_the_report_lacks():
    text = report.update(OLD, [(_case("Third"), ["third figures"])], "from run Z")
    assert text.endswith("## Third\n\nabout third\n\nfrom run Z\n\nthird figures\n")
    assert "old first figures" in text and "old second figures" in text
