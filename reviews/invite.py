"""The calendar invite of a review, as an iCalendar file (RFC 5545).

Written with the ``icalendar`` package, which escapes text values (``\\,``
``\\;`` ``\\n`` ``\\\\``, §3.3.11), quotes and encodes parameter values (RFC 6868),
folds long lines at 75 octets (§3.1) and ends every line with CRLF.

The file is a ``METHOD:PUBLISH`` event, the form calendars import from a
download; ``UID`` is stable per review and ``SEQUENCE`` grows with every
reschedule or cancellation, so re-importing replaces the earlier copy
(§3.8.4.7, §3.8.7.4).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from reviews.models import Review

PRODID = "-//Post-mortem knowledge base//Reviews//EN"


def _address(user, role: str) -> vCalAddress | None:
    if not user.email:
        return None
    address = vCalAddress(f"mailto:{user.email}")
    address.params["cn"] = vText(user.get_full_name() or user.get_username())
    address.params["role"] = vText(role)
    return address


def review_ics(review: Review, *, now: dt.datetime | None = None) -> bytes:
    """The review's invite as an ``.ics`` file (bytes, UTF-8, CRLF line ends).

    Args:
        review: with ``postmortem``, ``facilitator``, ``note_taker`` and
            ``invitees`` loaded (or loadable).
        now: the ``DTSTAMP`` (default: now).

    Returns:
        A VCALENDAR with one VEVENT: start ``scheduled_at`` (UTC), length the
        agenda's total minutes, summary "Post-mortem review: PM-<n> <title>",
        the agenda and the review page's link in the description, the
        facilitator as ORGANIZER, invitees and the note-taker as ATTENDEEs
        (people without an e-mail address are left out), STATUS CANCELLED for
        a cancelled review.
    """
    now = now or timezone.now()
    pm = review.postmortem
    link = f"{settings.SITE_URL}{review.get_absolute_url()}"
    host = urlparse(settings.SITE_URL).hostname or "localhost"
    start = review.scheduled_at.astimezone(dt.UTC)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")

    event = Event()
    event.add("uid", f"review-{review.pk}@{host}")
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", start)
    event.add("dtend", start + dt.timedelta(minutes=review.planned_minutes))
    event.add("sequence", review.sequence)
    event.add("summary", f"Post-mortem review: {pm.key} {pm.title}")
    agenda = "\n".join(f"- {step['label']}: {step['minutes']} min" for step in review.agenda)
    event.add(
        "description",
        f"Blameless review of {pm.key} \u201c{pm.title}\u201d ({pm.team.name}).\n\n"
        f"Agenda ({review.planned_minutes} minutes):\n{agenda}\n\n"
        f"Read the post-mortem before the meeting: {settings.SITE_URL}{pm.get_absolute_url()}\n"
        f"Review page: {link}",
    )
    if review.location:
        event.add("location", review.location)
    event.add("url", link)
    event.add("status", "CANCELLED" if review.status == Review.Status.CANCELLED else "CONFIRMED")
    organizer = _address(review.facilitator, "CHAIR")
    if organizer is not None:
        event.add("organizer", organizer, encode=0)
    seen = {review.facilitator_id}
    people = [(review.note_taker, "REQ-PARTICIPANT")] if review.note_taker else []
    people += [(person, "REQ-PARTICIPANT") for person in review.invitees.order_by("username")]
    for person, role in people:
        if person.pk in seen:
            continue
        seen.add(person.pk)
        address = _address(person, role)
        if address is not None:
            event.add("attendee", address, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()
