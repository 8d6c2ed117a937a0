import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from postmortems.models import ActionItem, ContributingFactor, PostMortem
from tests.factories import ActionItemFactory, DeclinedChangeFactory, PostMortemFactory


def test_taxonomy_is_seeded_without_a_human_error_factor(db):
    slugs = set(ContributingFactor.objects.values_list("slug", flat=True))
    assert len(slugs) == 27
    assert {"config-change", "retry-storm", "expired-credential", "time-pressure"} <= slugs
    assert not any("human" in slug or "operator" in slug for slug in slugs)
    assert all(f.suggested_dod_item for f in ContributingFactor.objects.all())


def test_keys_are_human_readable(db):
    item = ActionItemFactory()
    assert item.postmortem.key == f"PM-{item.postmortem.pk}"
    assert item.key == f"AI-{item.pk}"
    assert item.postmortem.get_absolute_url() == f"/postmortems/PM-{item.postmortem.pk}/"


def test_durations_are_measured_from_the_start(db):
    pm = PostMortemFactory()
    assert pm.time_to_detect == dt.timedelta(minutes=7)
    assert pm.time_to_mitigate == dt.timedelta(minutes=40)
    assert pm.time_to_resolve == dt.timedelta(hours=2)


def test_clean_rejects_detection_before_start(db):
    pm = PostMortemFactory.build(team=PostMortemFactory().team)
    pm.detected_at = pm.started_at - dt.timedelta(minutes=1)
    with pytest.raises(ValidationError) as err:
        pm.full_clean()
    assert "detected_at" in err.value.message_dict


def test_database_rejects_resolution_before_start(db):
    pm = PostMortemFactory()
    with pytest.raises(IntegrityError):
        PostMortem.objects.filter(pk=pm.pk).update(resolved_at=pm.started_at - dt.timedelta(hours=1))


def test_not_doing_requires_a_reason_in_clean_and_database(db):
    item = ActionItemFactory()
    item.status = ActionItem.Status.NOT_DOING
    with pytest.raises(ValidationError) as err:
        item.full_clean()
    assert "not_doing_reason" in err.value.message_dict
    with pytest.raises(IntegrityError):
        ActionItem.objects.filter(pk=item.pk).update(status="not_doing", not_doing_reason="")


def test_declined_change_requires_rationale_in_database(db):
    with pytest.raises(IntegrityError):
        DeclinedChangeFactory(rationale="")
