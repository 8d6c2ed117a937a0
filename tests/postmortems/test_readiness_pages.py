"""The blameless writing aids on the web pages: the inline language check of the
editor, the "Language check" and "Ready for review?" panels of the one-page
view, waivers, "Move to review" and the readiness gate of the edit form."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postmortems.models import FindingWaiver, PostMortem, ReadinessOverride
from tests.factories import ActionItemFactory, PostMortemFactory, TimelineEntryFactory, UserFactory, factor
from tests.postmortems.documents import blaming_draft, ready_draft
from tests.postmortems.test_views_edit import form_values, put

LINT = "/postmortems/lint/"


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff(db):
    return UserFactory(username="admin", is_staff=True)


# --- the inline check while writing (POST /postmortems/lint/) --------------------------


def test_inline_lint_returns_the_findings_partial(web):
    response = web.post(
        LINT, {"text": "At 10:42 the on-call forgot the renewal.", "section": "what_happened"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="lint-result">')
    assert "<html" not in html  # a fragment, not a page
    assert '<span class="lint-rule lint-rule-blame"' in html and ">Blame</span>" in html
    assert '<q class="lint-excerpt">on-call forgot</q>' in html
    assert "Blames a person" in html  # the message
    assert "Try: Describe what in the system made this likely" in html  # the suggestion
    assert "1 wording finding " in html


def test_inline_lint_uses_the_section_rules(web):
    text = "Be more careful when deploying."
    in_items = web.post(LINT, {"text": text, "section": "action_item"}).content.decode()
    assert "lint-rule-vague-action" in in_items and ">Vague action</span>" in in_items
    in_narrative = web.post(LINT, {"text": text, "section": "what_happened"}).content.decode()
    assert "No findings" in in_narrative and "lint-item" not in in_narrative


def test_inline_lint_says_no_findings_and_nothing_for_blank_text(web):
    clean = web.post(LINT, {"text": "Bob rolled back the change at 10:42.", "section": "what_happened"})
    assert clean.status_code == 200
    assert "No findings" in clean.content.decode()
    blank = web.post(LINT, {"text": "  \n ", "section": "what_happened"})
    assert blank.status_code == 200
    html = blank.content.decode()
    assert "No findings" not in html and "lint-item" not in html and 'class="lint-result"' in html
    assert "No findings" not in web.post(LINT, {"section": "what_happened"}).content.decode()


def test_inline_lint_escapes_the_text(web):
    html = web.post(LINT, {"text": "<script>x</script> the engineer forgot <b>it</b>"}).content.decode()
    assert "<script>" not in html and "<b>" not in html
    assert "engineer forgot" in html


def test_inline_lint_lists_at_most_twenty_findings(web):
    html = web.post(LINT, {"text": "The on-call forgot the flag. " * 30}).content.decode()
    assert html.count('class="lint-item"') == 20
    assert "30 wording findings" in html and "and 10 more" in html


def test_inline_lint_refuses_an_unknown_section(web):
    response = web.post(LINT, {"text": "The on-call forgot.", "section": "timeline"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "unknown section" in html and "what_we_change" in html


def test_inline_lint_refuses_a_body_over_the_upload_limit(web, settings):
    response = web.post(
        LINT, {"text": "a " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "section": "what_happened"}
    )
    assert response.status_code == 400


def test_inline_lint_is_post_only_and_needs_a_login(client, web):
    assert web.get(LINT).status_code == 405
    client.logout()
    response = client.post(LINT, {"text": "The on-call forgot.", "section": "what_happened"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_inline_lint_needs_the_csrf_token(client, author):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(author)
    assert strict.post(LINT, {"text": "x", "section": "what_happened"}).status_code == 403


def test_the_editor_wires_each_section_and_action_item_to_the_inline_check(web, team, author):
    pm = blaming_draft(team=team, authors=[author])
    html = web.get(f"/postmortems/{pm.key}/edit/").content.decode()
    # htmx and the small script, as static files; the CSRF token as an htmx header on <body>
    assert re.search(r'<script src="/static/vendor/htmx\.min\.js" defer>', html)
    assert '<script src="/static/js/lint.js" defer>' in html
    assert re.search(r"""<body[^>]* hx-headers='\{"X-CSRFToken": "\w{32,}"\}'>""", html)
    assert "<script>" not in html  # no inline script
    for section in ("what_happened", "why_it_happened", "what_we_change", "what_we_dont_change"):
        tag = re.search(rf'<textarea name="{section}"[^>]*>', html).group(0)
        assert f'data-lint-section="{section}"' in tag
        assert 'hx-post="/postmortems/lint/"' in tag
        assert 'hx-trigger="input changed delay:600ms, load"' in tag
        assert 'hx-target="next .lint-findings"' in tag
    item_inputs = re.findall(r'<input type="text" name="items-[\w_]+-text"[^>]*>', html)
    assert len(item_inputs) == 2  # the stored item and the template row
    assert all('data-lint-section="action_item"' in tag for tag in item_inputs)
    # a findings box under each of them (4 sections, the item, the template row)
    assert html.count('<div class="lint-findings" aria-live="polite"></div>') == 6


# --- the panels of the one-page view ----------------------------------------------------


def _panels(html: str) -> tuple[bool, bool]:
    return 'id="language-check"' in html, 'id="readiness"' in html


def test_whoever_may_edit_sees_the_panels_others_do_not(client, team, author, teammate, outsider, staff):
    # Issue 9: the panels follow access.can_edit, so the team's members see them too.
    facilitator = UserFactory(username="fran")
    pm = blaming_draft(team=team, authors=[author], facilitator=facilitator)
    for user, expected in (
        (author, (True, True)),
        (facilitator, (True, True)),
        (staff, (True, True)),
        (teammate, (True, True)),
        (outsider, (False, False)),
    ):
        response = login(client, user).get(pm.get_absolute_url())
        assert response.status_code == 200
        html = response.content.decode()
        assert _panels(html) == expected, user.username
        assert ("Move to review" in html) is expected[1]


def test_the_language_panel_lists_open_findings_by_section_with_a_waive_form(web, team, author):
    pm = blaming_draft(team=team, authors=[author])
    item = pm.action_items.get()
    html = web.get(pm.get_absolute_url()).content.decode()
    panel = html[html.index('id="language-check"') :]
    assert "2 open" in panel
    assert panel.index("Why it happened") < panel.index("Action items")
    assert '<q class="lint-excerpt">on-call forgot</q>' in panel
    assert '<q class="lint-excerpt">Be more careful</q>' in panel
    assert f'href="#{item.key}"' in panel
    assert panel.count(f'action="/postmortems/{pm.key}/waivers/"') == 2
    assert '<input type="hidden" name="excerpt" value="on-call forgot">' in panel


def test_the_readiness_checklist_marks_each_check(web, team, author):
    pm = blaming_draft(team=team, authors=[author])
    html = web.get(pm.get_absolute_url()).content.decode()
    checklist = html[html.index('id="readiness"') : html.index('id="language-check"')]
    assert checklist.count('class="check-item is-failed"') == 4
    assert checklist.count('class="check-item is-passed"') == 4
    assert "There are 1." in checklist  # the detail of the action-count check
    assert "4 to fix" in checklist
    assert "stays a draft" not in html  # only after a refused "Move to review"

    ready = ready_draft(team=team, authors=[author])
    ready.factors.set([factor("code-change")])  # broad alone: a warning, not a failure
    html = web.get(ready.get_absolute_url()).content.decode()
    checklist = html[html.index('id="readiness"') : html.index('id="language-check"')]
    assert 'class="check-item is-warning"' in checklist
    assert "is-failed" not in checklist
    assert ">Ready</span>" in checklist


def test_documents_past_draft_show_the_language_check_but_no_checklist(web, team, author):
    pm = PostMortemFactory(team=team, authors=[author], status="published", why_it_happened="Bob forgot.")
    html = web.get(pm.get_absolute_url()).content.decode()
    assert _panels(html) == (True, False)
    assert "Move to review" not in html


def test_a_clean_document_says_so(web, team, author):
    pm = ready_draft(team=team, authors=[author])
    html = web.get(pm.get_absolute_url()).content.decode()
    assert "No open findings" in html and "No wording to reconsider" in html


def test_detail_with_the_panels_has_a_fixed_query_count(web, team, author, django_assert_max_num_queries):
    pm = ready_draft(team=team, authors=[author])
    web.get(pm.get_absolute_url())  # warm up (session, content types)
    with CaptureQueriesContext(connection) as few:
        assert 'id="readiness"' in web.get(pm.get_absolute_url()).content.decode()
    for _ in range(5):
        ActionItemFactory(postmortem=pm)
        TimelineEntryFactory(postmortem=pm)
    with django_assert_max_num_queries(len(few.captured_queries)):
        web.get(pm.get_absolute_url())


# --- waiving a finding on the page -------------------------------------------------------


def _waive(client, pm, **overrides):
    data = {
        "section": "why_it_happened",
        "rule": "blame",
        "excerpt": "on-call forgot",
        "reason": "Quoted chat.",
    }
    data.update(overrides)
    return client.post(f"/postmortems/{pm.key}/waivers/", data)


def test_waiving_on_the_page_dims_the_finding_and_shows_the_reason(web, team, author):
    pm = blaming_draft(team=team, authors=[author])
    response = _waive(web, pm, reason="Quoted from the on-call's chat message.")
    assert response.status_code == 302
    assert response["Location"] == f"/postmortems/{pm.key}/#language-check"
    waiver = FindingWaiver.objects.get()
    assert (waiver.postmortem, waiver.section, waiver.rule, waiver.excerpt) == (
        pm,
        "why_it_happened",
        "blame",
        "on-call forgot",
    )
    assert waiver.created_by == author
    html = web.get(pm.get_absolute_url()).content.decode()
    assert '<li class="aid-finding is-waived">' in html
    assert "Marked intentional: Quoted from the on-call&#x27;s chat message." in html
    assert "1 open" in html and "1 marked intentional" in html


def test_a_waiver_needs_a_reason_and_a_known_section(web, team, author):
    pm = blaming_draft(team=team, authors=[author])
    for overrides in ({"reason": ""}, {"reason": "   "}, {"section": "timeline"}, {"rule": "nope"}):
        response = _waive(web, pm, **overrides)
        assert response.status_code == 302
        shown = web.get(response["Location"]).content.decode()
        assert "The finding was not waived" in shown
    assert not FindingWaiver.objects.exists()


def test_others_cannot_waive_on_the_page(client, team, author, outsider):
    pm = blaming_draft(team=team, authors=[author])
    assert _waive(login(client, outsider), pm).status_code == 403
    client.logout()
    response = _waive(client, pm)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not FindingWaiver.objects.exists()
    assert client.get(f"/postmortems/{pm.key}/waivers/").status_code in (302, 405)


def test_waiving_an_unknown_post_mortem_is_404(web):
    assert _waive(web, PostMortem(pk=99999)).status_code == 404


# --- "Move to review" -----------------------------------------------------------------------


def test_move_to_review_moves_a_ready_draft(web, team, author):
    pm = ready_draft(team=team, authors=[author])
    response = web.post(f"/postmortems/{pm.key}/review/")
    assert response.status_code == 302 and response["Location"] == pm.get_absolute_url()
    pm.refresh_from_db()
    assert pm.status == "in_review"


def test_move_to_review_is_refused_with_the_checklist_when_not_ready(web, team, author):
    pm = blaming_draft(team=team, authors=[author])
    response = web.post(f"/postmortems/{pm.key}/review/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(f"{pm.get_absolute_url()}?review=refused#readiness", 302)]
    html = response.content.decode()
    checklist = html[html.index('id="readiness"') : html.index('id="language-check"')]
    assert "stays a draft: it is not ready for review yet" in checklist
    assert 'id="readiness"' in html and html.count('class="check-item is-failed"') == 4
    pm.refresh_from_db()
    assert pm.status == "draft"


def test_move_to_review_is_for_participants_and_post_only(client, team, author, outsider):
    pm = ready_draft(team=team, authors=[author])
    assert login(client, outsider).post(f"/postmortems/{pm.key}/review/").status_code == 403
    assert login(client, author).get(f"/postmortems/{pm.key}/review/").status_code == 405
    client.logout()
    assert client.post(f"/postmortems/{pm.key}/review/").status_code == 302
    assert PostMortem.objects.get(pk=pm.pk).status == "draft"


# --- the gate in the edit form ----------------------------------------------------------------


def test_the_edit_form_shows_failing_checks_as_errors_and_saves_nothing(web, team, author):
    pm = blaming_draft(team=team, authors=[author], title="Old title")
    data = form_values(web.get(f"/postmortems/{pm.key}/edit/"))
    put(data, "status", "in_review")
    put(data, "title", "New title")
    response = web.post(f"/postmortems/{pm.key}/edit/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Please correct the errors below; nothing was saved." in html
    errors = re.findall(r'<p class="field-error">(Not ready for review[^<]*)</p>', html)
    assert len(errors) == 4
    assert any("Between 3 and 5 action items" in e for e in errors)
    assert "Override reason" not in html  # not staff
    pm.refresh_from_db()
    assert (pm.status, pm.title) == ("draft", "Old title")


def test_a_ready_draft_leaves_draft_through_the_edit_form(web, team, author):
    pm = ready_draft(team=team, authors=[author])
    data = form_values(web.get(f"/postmortems/{pm.key}/edit/"))
    put(data, "status", "in_review")
    response = web.post(f"/postmortems/{pm.key}/edit/", data)
    assert response.status_code == 302
    assert PostMortem.objects.get(pk=pm.pk).status == "in_review"


def test_staff_see_an_override_reason_that_records_the_override(client, team, author, staff):
    pm = blaming_draft(team=team, authors=[author])
    login(client, staff)
    page = client.get(f"/postmortems/{pm.key}/edit/").content.decode()
    assert "Override reason" in page and 'name="readiness_override_reason"' in page
    data = form_values(client.get(f"/postmortems/{pm.key}/edit/"))
    put(data, "status", "in_review")
    put(data, "readiness_override_reason", "The review meeting is today; we fix the wording there.")
    response = client.post(f"/postmortems/{pm.key}/edit/", data)
    assert response.status_code == 302
    assert PostMortem.objects.get(pk=pm.pk).status == "in_review"
    override = ReadinessOverride.objects.get()
    assert override.created_by == staff and override.reason.startswith("The review meeting is today")


def test_staff_without_a_reason_meet_the_gate_like_everyone(client, team, author, staff):
    pm = blaming_draft(team=team, authors=[author])
    login(client, staff)
    data = form_values(client.get(f"/postmortems/{pm.key}/edit/"))
    put(data, "status", "in_review")
    response = client.post(f"/postmortems/{pm.key}/edit/", data)
    assert response.status_code == 200
    assert "Not ready for review" in response.content.decode()
    assert PostMortem.objects.get(pk=pm.pk).status == "draft"
    assert not ReadinessOverride.objects.exists()


def test_a_non_staff_override_reason_is_ignored(web, team, author):
    pm = blaming_draft(team=team, authors=[author])
    data = form_values(web.get(f"/postmortems/{pm.key}/edit/"))
    put(data, "status", "in_review")
    put(data, "readiness_override_reason", "Trust me.")
    response = web.post(f"/postmortems/{pm.key}/edit/", data)
    assert response.status_code == 200
    assert PostMortem.objects.get(pk=pm.pk).status == "draft"
    assert not ReadinessOverride.objects.exists()
