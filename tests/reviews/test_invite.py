"""The calendar invite: RFC 5545 text, escaping, CRLF, sequence."""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar

from reviews import scheduling
from reviews.invite import review_ics


def test_invite_is_a_valid_calendar_with_the_people_and_the_agenda(scheduled_review, settings):
    data = review_ics(scheduled_review)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line ends with CRLF
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded at 75 octets
    calendar = Calendar.from_ical(data)
    assert calendar["METHOD"] == "PUBLISH"
    event = calendar.walk("VEVENT")[0]
    pm = scheduled_review.postmortem
    assert str(event["SUMMARY"]) == f"Post-mortem review: {pm.key} {pm.title}"
    assert event.decoded("DTSTART") == scheduled_review.scheduled_at.replace(microsecond=0)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == dt.timedelta(minutes=30)
    assert str(event["UID"]) == f"review-{scheduled_review.pk}@127.0.0.1"
    assert str(event["ORGANIZER"]) == "mailto:fran@example.com"
    attendees = sorted(str(a) for a in event.get("ATTENDEE"))
    assert attendees == ["mailto:alice@example.com", "mailto:bob@example.com", "mailto:nina@example.com"]
    assert "Timeline: 12 min" in str(event["DESCRIPTION"])
    assert str(event["LOCATION"]) == "Room 4, https://meet.example/abc"
    assert b"LOCATION:Room 4\\, https://meet.example/abc" in data  # comma escaped (RFC 5545 3.3.11)


def test_text_with_special_characters_is_escaped(scheduled_review, facilitator):
    pm = scheduled_review.postmortem
    pm.title = 'Checkout; "timeouts", and a \\ backslash'
    pm.save()
    scheduling.review_reschedule(review=scheduled_review, user=facilitator, data={"location": "A;B,C"})
    scheduled_review.refresh_from_db()
    data = review_ics(scheduled_review).decode()
    unfolded = data.replace("\r\n ", "")
    assert "SUMMARY:Post-mortem review: PM-" in unfolded
    assert 'Checkout\\; "timeouts"\\, and a \\\\ backslash' in unfolded
    assert "LOCATION:A\\;B\\,C" in unfolded
    assert "SEQUENCE:1" in unfolded
    event = Calendar.from_ical(data).walk("VEVENT")[0]
    assert str(event["SUMMARY"]).endswith('Checkout; "timeouts", and a \\ backslash')


def test_a_cancelled_review_says_so(scheduled_review, facilitator):
    scheduling.review_cancel(review=scheduled_review, user=facilitator)
    scheduled_review.refresh_from_db()
    event = Calendar.from_ical(review_ics(scheduled_review)).walk("VEVENT")[0]
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
