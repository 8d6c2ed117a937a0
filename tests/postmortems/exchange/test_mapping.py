"""The category → contributing-factor tables, checked entry by entry."""

from __future__ import annotations

import pytest

from postmortems.exchange.corpus import (
    DANLUU,
    DANLUU_SECTION_FACTORS,
    ICCO,
    ICCO_CATEGORY_FACTORS,
    ISSRE,
    ISSRE_ROOT_CAUSE_FACTORS,
    factors_for,
    fold_issre_label,
)
from postmortems.models import ContributingFactor


@pytest.mark.django_db
def test_every_mapped_slug_is_a_seeded_contributing_factor():
    seeded = set(ContributingFactor.objects.values_list("slug", flat=True))
    for table in (ICCO_CATEGORY_FACTORS, DANLUU_SECTION_FACTORS, ISSRE_ROOT_CAUSE_FACTORS):
        for label, slugs in table.items():
            assert set(slugs) <= seeded, f"{label!r} maps to unknown slugs {set(slugs) - seeded}"


def test_icco_table_follows_the_crosswalk():
    assert ICCO_CATEGORY_FACTORS == {
        "config-change": ("config-change",),
        "cascading-failure": ("cascading-failure",),
        "hardware": ("hardware-failure",),
        "time": ("time-handling",),
        "cloud": ("third-party-failure",),
        "security": ("access-control",),
        "automation": ("deploy-process",),
        "undescriptive": (),
        "postmortem": (),
    }


def test_danluu_table_follows_the_crosswalk_and_uncategorized_maps_to_nothing():
    assert DANLUU_SECTION_FACTORS == {
        "config errors": ("config-change",),
        "hardware/power failures": ("hardware-failure",),
        "time": ("time-handling",),
        "database": ("schema-migration",),
        "conflicts": ("race-condition",),
        "uncategorized": (),
    }
    assert factors_for(DANLUU, ["Uncategorized"]) == ([], [])
    assert factors_for(DANLUU, ["Hardware/Power Failures"]) == (["hardware-failure"], [])


@pytest.mark.parametrize(
    ("label", "slugs"),
    [
        ("internal causes > software bugs > config", ["config-change"]),
        ("internal causes > software bugs > code change", ["code-change"]),
        ("internal causes > software bugs > incompatibility", ["dependency-upgrade"]),
        ("internal causes > software bugs > timing bug", ["time-handling"]),
        ("internal causes > software bugs > payload flood", ["capacity"]),
        ("external causes > excessive flow", ["capacity"]),
        ("external causes > insufficient resource", ["capacity"]),
        ("external causes > insufficient resource > service capacity", ["capacity"]),
        ("external causes > hardware failures > network", ["network-failure"]),
        ("external causes > hardware failures > fiber cut", ["network-failure"]),
        ("external causes > hardware failures > power outage", ["hardware-failure"]),
        ("external causes > hardware failures > cooling system", ["hardware-failure"]),
        ("external causes > hardware failures", ["hardware-failure"]),
        ("external causes > third-party failures", ["third-party-failure"]),
        ("internal causes > software bugs > resource race", ["race-condition"]),
        ("internal causes > software bugs > exception handling", ["error-handling"]),
        ("external causes > component removal", ["manual-operation"]),
        ("internal causes > software bugs", []),
        ("unknown", []),
    ],
)
def test_issre_root_cause_paths_map_to_factors(label, slugs):
    assert factors_for(ISSRE, [label]) == (slugs, [])


@pytest.mark.parametrize(
    ("variant", "slugs"),
    [
        ("internal causes > softwares bugs > exception handling", ["error-handling"]),
        ("internal causes > software failures > config", ["config-change"]),
        ("internal causes > software failures > code change", ["code-change"]),
        ("external causes > insufficient resource > CPU", ["capacity"]),
        ("external causes > insufficient resource > cpu", ["capacity"]),
        ("external causes > hardware failures > cooling systems", ["hardware-failure"]),
        ("external causes > hardware failures > fire supression system", ["hardware-failure"]),
        ("External Causes  >  Hardware Failure > Power Outages", ["hardware-failure"]),
    ],
)
def test_issre_spelling_variants_fold_onto_one_entry(variant, slugs):
    assert factors_for(ISSRE, [variant]) == (slugs, [])


def test_fold_issre_label_normalises_case_plurals_and_misspellings():
    assert fold_issre_label("Internal Causes > softwares bugs > Config") == (
        "internal cause > software bug > config"
    )
    assert fold_issre_label("internal causes > software failures > others") == (
        fold_issre_label("internal causes > software bugs > other")
    )


def test_unknown_labels_map_to_nothing_and_are_returned_for_counting():
    slugs, unknown = factors_for(ISSRE, ["external causes > meteor strike", "unknown"])
    assert slugs == [] and unknown == ["external causes > meteor strike"]
    assert factors_for(ICCO, ["aliens", "time"]) == (["time-handling"], ["aliens"])
    assert factors_for("some/other-corpus", ["config-change"]) == ([], ["config-change"])


def test_several_labels_give_the_sorted_union_of_their_factors():
    slugs, unknown = factors_for(
        ISSRE,
        [
            "internal causes > software bugs > config",
            "external causes > hardware failures > power outage",
            "internal causes > software failures > config",
        ],
    )
    assert slugs == ["config-change", "hardware-failure"] and unknown == []
