"""Writing post-mortems through the web form: create, edit, and bad input that
must re-render with errors and save nothing."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from postmortems.forms import SECTION_TEMPLATES
from postmortems.models import (
    ActionItem,
    DeclinedChange,
    FixPullRequest,
    PostMortem,
    TimelineEntry,
)
from tests.factories import (
    ActionItemFactory,
    DeclinedChangeFactory,
    FixPullRequestFactory,
    PostMortemFactory,
    ServiceFactory,
    TimelineEntryFactory,
    factor,
)

CREATE = "/postmortems/new/"


class _FormValues(HTMLParser):
    """Collect what a browser would submit from the page's post-mortem form
    (inputs, checked boxes, selected options, textareas), skipping <template>."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._in_form = False
        self._template_depth = 0
        self._select: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def _add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "pm-form" in (a.get("class") or ""):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "template":
            self._template_depth += 1
        if self._template_depth:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._add(name, a.get("value", "on"))
            elif kind not in ("submit", "button"):
                self._add(name, a.get("value") or "")
        elif tag == "select":
            self._select = name
            self.values.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value") or "")
        elif tag == "textarea":
            self._textarea = name
            self._text = []

    def handle_endtag(self, tag):
        if tag == "template" and self._template_depth:
            self._template_depth -= 1
        elif tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Browsers drop the one newline that follows <textarea>.
            self._add(self._textarea, "".join(self._text).removeprefix("\n"))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def form_values(response) -> dict[str, list[str]]:
    parser = _FormValues()
    parser.convert_charrefs = True
    parser.feed(response.content.decode())
    return {name: values for name, values in parser.values.items() if values != []}


def put(values: dict, name: str, value) -> None:
    values[name] = value if isinstance(value, list) else [value]


def valid_create_data(web, team, author) -> dict:
    """The create page as served, filled in the way a user would."""
    data = form_values(web.get(CREATE))
    put(data, "title", "Checkout errors after the 4.2 release")
    put(data, "team", str(team.pk))
    put(data, "severity", "SEV2")
    put(data, "started_at", "2024-03-01T10:00")
    put(data, "detected_at", "2024-03-01T10:07")
    put(data, "mitigated_at", "2024-03-01T10:40")
    put(data, "resolved_at", "2024-03-01T12:00")
    put(data, "what_happened", "**Symptom:** checkout returned HTTP 500 for 12% of requests.")
    put(data, "why_it_happened", "A config push removed the payment timeout default.")
    return data


# --- the page -------------------------------------------------------------------------


def test_create_page_starts_from_the_four_section_template(web, team, author):
    response = web.get(CREATE)
    html = response.content.decode()
    assert response.status_code == 200
    values = form_values(response)
    for name, text in SECTION_TEMPLATES.items():
        assert values[name] == [text], name
    assert "describe conditions of the system, not people" in html
    assert 'never "be more careful"' in values["what_we_change"][0]
    assert values["team"] == [str(team.pk)]
    assert values["authors"] == [str(author.pk)]
    # factors grouped by category, as checkboxes
    assert "<h4>Verification</h4>" in html and 'type="checkbox" name="factors"' in html
    # formsets with an inert empty-form template and a static script, no inline script
    for prefix in ("timeline", "items", "declined", "prs"):
        assert f'name="{prefix}-TOTAL_FORMS"' in html
        assert f'name="{prefix}-__prefix__-' in html
    assert '<script src="/static/js/formset.js" defer></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert 'type="datetime-local"' in html


def test_create_saves_the_document_and_every_row(web, team, author, teammate):
    checkout = ServiceFactory(slug="checkout", name="Checkout", team=team)
    data = valid_create_data(web, team, author)
    put(data, "services", str(checkout.pk))
    put(data, "facilitator", str(teammate.pk))
    put(data, "factors", [str(factor("config-change").pk), str(factor("missing-test").pk)])
    put(data, "source_url", "https://status.example.com/incidents/17")
    put(data, "timeline-0-at", "2024-03-01T10:02")
    put(data, "timeline-0-text", "Error-rate alert fired")
    put(data, "timeline-0-evidence_url", "https://grafana.example.com/d/1")
    # a second timeline row, as the "Add" button would create it
    put(data, "timeline-1-at", "2024-03-01T10:40")
    put(data, "timeline-1-text", "Rolled back the config")
    put(data, "timeline-TOTAL_FORMS", "2")
    put(data, "items-0-text", "Add a schema check for payment config")
    put(data, "items-0-kind", "check")
    put(data, "items-0-owner", str(teammate.pk))
    put(data, "items-0-due_date", "2030-04-01")
    put(data, "items-0-status", "open")
    put(data, "items-0-ticket_url", "https://jira.example.com/browse/PAY-1")
    put(data, "declined-0-text", "Freeze Friday deploys")
    put(data, "declined-0-rationale", "The fault was not tied to the day.")
    put(data, "prs-0-url", "https://github.com/acme/shop/pull/12")
    put(data, "prs-0-title", "Restore timeout default")
    put(data, "prs-0-state", "merged")

    response = web.post(CREATE, data)

    pm = PostMortem.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/postmortems/{pm.key}/"
    assert pm.title == "Checkout errors after the 4.2 release"
    assert pm.team == team and pm.severity == "SEV2" and pm.status == "draft"
    assert pm.started_at == timezone.make_aware(dt.datetime(2024, 3, 1, 10, 0))
    assert pm.time_to_detect == dt.timedelta(minutes=7)
    assert pm.facilitator == teammate and list(pm.authors.all()) == [author]
    assert pm.created_by == author
    assert list(pm.services.all()) == [checkout]
    assert {f.slug for f in pm.factors.all()} == {"config-change", "missing-test"}
    assert pm.what_happened.startswith("**Symptom:** checkout returned")
    assert pm.what_we_change == SECTION_TEMPLATES["what_we_change"]
    assert [e.text for e in pm.timeline.all()] == ["Error-rate alert fired", "Rolled back the config"]
    item = pm.action_items.get()
    assert (item.text, item.kind, item.owner, item.due_date) == (
        "Add a schema check for payment config",
        "check",
        teammate,
        dt.date(2030, 4, 1),
    )
    assert pm.declined_changes.get().rationale == "The fault was not tied to the day."
    pr = pm.fix_prs.get()
    assert (pr.repository, pr.number, pr.state) == ("acme/shop", 12, "merged")
    assert "Error-rate alert fired" in pm.search_body  # saved through the service

    page = web.get(response["Location"])
    assert f"{pm.key} created." in page.content.decode()


def test_blank_extra_rows_are_ignored(web, team, author):
    response = web.post(CREATE, valid_create_data(web, team, author))
    assert response.status_code == 302
    pm = PostMortem.objects.get()
    assert pm.timeline.count() == pm.action_items.count() == 0
    assert pm.declined_changes.count() == pm.fix_prs.count() == 0


# --- bad input: re-render with errors, save nothing --------------------------------------


def _assert_nothing_saved():
    assert PostMortem.objects.count() == 0
    assert TimelineEntry.objects.count() == ActionItem.objects.count() == 0
    assert DeclinedChange.objects.count() == FixPullRequest.objects.count() == 0


def test_missing_sections_are_form_errors(web, team, author):
    data = valid_create_data(web, team, author)
    put(data, "what_happened", "")
    put(data, "why_it_happened", "   ")
    response = web.post(CREATE, data)
    assert response.status_code == 200
    form = response.context["form"]
    assert "what_happened" in form.errors and "why_it_happened" in form.errors
    assert "nothing was saved" in response.content.decode()
    _assert_nothing_saved()


def test_unchanged_section_prompts_are_rejected(web, team, author):
    data = valid_create_data(web, team, author)
    put(data, "why_it_happened", SECTION_TEMPLATES["why_it_happened"])
    response = web.post(CREATE, data)
    assert response.status_code == 200
    assert "Replace the prompts" in response.context["form"].errors["why_it_happened"][0]
    _assert_nothing_saved()


def test_oversized_section_is_an_error(web, team, author, settings):
    data = valid_create_data(web, team, author)
    put(data, "what_happened", "x" * (settings.KB_MAX_SECTION_CHARS + 1))
    response = web.post(CREATE, data)
    assert response.status_code == 200
    assert "at most" in str(response.context["form"].errors["what_happened"])
    _assert_nothing_saved()


def test_oversized_title_and_row_text_are_errors(web, team, author):
    data = valid_create_data(web, team, author)
    put(data, "title", "t" * 201)
    put(data, "timeline-0-at", "2024-03-01T10:02")
    put(data, "timeline-0-text", "y" * 1001)
    response = web.post(CREATE, data)
    assert response.status_code == 200
    assert "title" in response.context["form"].errors
    assert "text" in response.context["formsets"]["timeline"].forms[0].errors
    _assert_nothing_saved()


def test_severity_is_required_in_the_form(web, team, author):
    data = valid_create_data(web, team, author)
    put(data, "severity", "")
    response = web.post(CREATE, data)
    assert response.status_code == 200
    assert "severity" in response.context["form"].errors
    _assert_nothing_saved()


def test_detection_before_start_is_an_error(web, team, author):
    data = valid_create_data(web, team, author)
    put(data, "detected_at", "2024-03-01T09:00")
    response = web.post(CREATE, data)
    assert response.status_code == 200
    assert "Must not be before" in response.context["form"].errors["detected_at"][0]
    _assert_nothing_saved()


def test_bad_due_date_is_an_error_on_the_row(web, team, author):
    data = valid_create_data(web, team, author)
    put(data, "items-0-text", "Add a check")
    put(data, "items-0-kind", "check")
    put(data, "items-0-owner", str(author.pk))
    put(data, "items-0-due_date", "2030-13-45")
    put(data, "items-0-status", "open")
    response = web.post(CREATE, data)
    assert response.status_code == 200
    item_form = response.context["formsets"]["items"].forms[0]
    assert "due_date" in item_form.errors
    assert "Enter a valid date" in response.content.decode()
    _assert_nothing_saved()


def test_action_item_needs_owner_and_due_date(web, team, author):
    data = valid_create_data(web, team, author)
    put(data, "items-0-text", "Add a check")
    put(data, "items-0-owner", "")
    put(data, "items-0-due_date", "")
    response = web.post(CREATE, data)
    assert response.status_code == 200
    errors = response.context["formsets"]["items"].forms[0].errors
    assert "owner" in errors and "due_date" in errors
    _assert_nothing_saved()


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/shop/issues/12",
        "https://github.com/acme/shop",
        "javascript:alert(1)",
        "not a url",
    ],
)
def test_a_url_that_is_not_a_pull_request_is_a_field_error(web, team, author, url):
    data = valid_create_data(web, team, author)
    put(data, "prs-0-url", url)
    put(data, "prs-0-state", "open")
    response = web.post(CREATE, data)
    assert response.status_code == 200
    assert "url" in response.context["formsets"]["prs"].forms[0].errors
    _assert_nothing_saved()


def test_not_doing_without_reason_is_an_error_on_the_row(web, team, author):
    data = valid_create_data(web, team, author)
    put(data, "items-0-text", "Rewrite the client")
    put(data, "items-0-kind", "code")
    put(data, "items-0-owner", str(author.pk))
    put(data, "items-0-due_date", "2030-01-01")
    put(data, "items-0-status", "not_doing")
    put(data, "items-0-not_doing_reason", "")
    response = web.post(CREATE, data)
    assert response.status_code == 200
    errors = response.context["formsets"]["items"].forms[0].errors
    assert "Say why this will not be done" in errors["not_doing_reason"][0]
    _assert_nothing_saved()


def test_declined_change_needs_a_rationale(web, team, author):
    data = valid_create_data(web, team, author)
    put(data, "declined-0-text", "Freeze Friday deploys")
    put(data, "declined-0-rationale", "")
    response = web.post(CREATE, data)
    assert response.status_code == 200
    assert "rationale" in response.context["formsets"]["declined"].forms[0].errors
    _assert_nothing_saved()


def test_service_errors_are_shown_on_the_row_they_name(web, team, author, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError(
            {"timeline": ["Row 1: text: Refused by the service."], "title": ["Title refused."]}
        )

    monkeypatch.setattr("postmortems.services.postmortem_save", refuse)
    data = valid_create_data(web, team, author)
    put(data, "timeline-0-at", "2024-03-01T10:02")
    put(data, "timeline-0-text", "Alert fired")
    response = web.post(CREATE, data)
    assert response.status_code == 200
    assert response.context["formsets"]["timeline"].forms[0].errors["text"] == ["Refused by the service."]
    assert response.context["form"].errors["title"] == ["Title refused."]
    _assert_nothing_saved()


# --- edit -----------------------------------------------------------------------------------


def test_edit_updates_fields_changes_rows_and_removes_marked_rows(web, team, author, teammate):
    pm = PostMortemFactory(team=team, title="Old title", authors=[author])
    keep = TimelineEntryFactory(postmortem=pm, text="Alert fired")
    drop = TimelineEntryFactory(postmortem=pm, text="Wrong entry")
    item = ActionItemFactory(postmortem=pm, owner=author, text="Old item text")
    gone_item = ActionItemFactory(postmortem=pm, owner=author, text="Remove me")
    DeclinedChangeFactory(postmortem=pm, text="Freeze deploys")
    pr = FixPullRequestFactory(postmortem=pm)
    url = reverse("postmortems:edit", kwargs={"key": pm.key})

    page = web.get(url)
    assert page.status_code == 200
    data = form_values(page)
    assert data["title"] == ["Old title"]
    assert data["what_happened"] == [pm.what_happened]  # no template on edit
    forms = {v[0]: k.rsplit("-", 1)[0] for k, v in data.items() if k.endswith("-text")}
    put(data, "title", "New title")
    put(data, f"{forms['Wrong entry']}-DELETE", "on")
    put(data, f"{forms['Old item text']}-text", "New item text")
    put(data, f"{forms['Old item text']}-status", "done")
    put(data, f"{forms['Remove me']}-DELETE", "on")
    put(data, "prs-0-action_item", str(item.pk))
    assert "declined-1-text" not in data  # no blank row when rows exist
    put(data, "declined-TOTAL_FORMS", "2")  # what the "Add" button does
    put(data, "declined-1-text", "Rewrite in Rust")
    put(data, "declined-1-rationale", "Too big for the risk it removes.")

    response = web.post(url, data)

    assert response.status_code == 302, response.context and response.context["form"].errors
    pm.refresh_from_db()
    assert pm.title == "New title"
    assert list(pm.timeline.values_list("pk", flat=True)) == [keep.pk]
    assert not TimelineEntry.objects.filter(pk=drop.pk).exists()
    item.refresh_from_db()
    assert (item.text, item.status) == ("New item text", "done")
    assert item.completed_at is not None
    assert not ActionItem.objects.filter(pk=gone_item.pk).exists()
    assert sorted(pm.declined_changes.values_list("text", flat=True)) == ["Freeze deploys", "Rewrite in Rust"]
    pr.refresh_from_db()
    assert pr.action_item == item
    assert "New item text" in pm.search_body and "Remove me" not in pm.search_body


def test_edit_with_bad_input_changes_nothing(web, team, author):
    pm = PostMortemFactory(team=team, title="Stable title")
    item = ActionItemFactory(postmortem=pm, owner=author)
    url = reverse("postmortems:edit", kwargs={"key": pm.key})
    data = form_values(web.get(url))
    put(data, "title", "Changed")
    put(data, "items-0-status", "not_doing")
    response = web.post(url, data)
    assert response.status_code == 200
    pm.refresh_from_db()
    item.refresh_from_db()
    assert pm.title == "Stable title" and item.status == "open"


def test_edit_cannot_take_over_another_post_mortems_row(web, team, author):
    pm = PostMortemFactory(team=team)
    other_entry = TimelineEntryFactory(text="Not yours")
    url = reverse("postmortems:edit", kwargs={"key": pm.key})
    data = form_values(web.get(url))
    put(data, "timeline-0-id", str(other_entry.pk))
    put(data, "timeline-0-at", "2024-03-01T10:02")
    put(data, "timeline-0-text", "Hijacked")
    response = web.post(url, data)
    assert response.status_code == 200
    other_entry.refresh_from_db()
    assert other_entry.text == "Not yours" and other_entry.postmortem != pm
    assert pm.timeline.count() == 0


def test_pr_cannot_link_an_action_item_of_another_post_mortem(web, team, author):
    pm = PostMortemFactory(team=team)
    foreign = ActionItemFactory()
    url = reverse("postmortems:edit", kwargs={"key": pm.key})
    data = form_values(web.get(url))
    put(data, "prs-0-url", "https://github.com/acme/shop/pull/3")
    put(data, "prs-0-state", "open")
    put(data, "prs-0-action_item", str(foreign.pk))
    response = web.post(url, data)
    assert response.status_code == 200
    assert "action_item" in response.context["formsets"]["prs"].forms[0].errors
    assert pm.fix_prs.count() == 0


def test_edit_page_round_trips_without_changes(web, team, author):
    pm = PostMortemFactory(team=team, factors=[factor("config-change")])
    TimelineEntryFactory(postmortem=pm)
    ActionItemFactory(postmortem=pm, owner=author)
    FixPullRequestFactory(postmortem=pm)
    DeclinedChangeFactory(postmortem=pm)
    before = PostMortem.objects.filter(pk=pm.pk).values().get()
    url = reverse("postmortems:edit", kwargs={"key": pm.key})
    response = web.post(url, form_values(web.get(url)))
    assert response.status_code == 302
    after = PostMortem.objects.filter(pk=pm.pk).values().get()
    before.pop("updated_at"), after.pop("updated_at")
    assert after.pop("version") == before.pop("version") + 1  # a save happened
    before.pop("search_body"), after.pop("search_body")
    assert before == after
    assert pm.timeline.count() == pm.action_items.count() == pm.fix_prs.count() == 1
    assert list(pm.factors.values_list("slug", flat=True)) == ["config-change"]


def test_a_row_formset_never_saves_by_itself(db):
    from postmortems.forms import ROW_FORMSETS
    from tests.factories import PostMortemFactory

    pm = PostMortemFactory()
    for _, prefix, formset_class, _ in ROW_FORMSETS:
        formset = formset_class(instance=pm, prefix=prefix)
        with pytest.raises(RuntimeError, match="postmortem_save"):
            formset.save()
