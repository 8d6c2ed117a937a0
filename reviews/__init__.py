"""The 30-minute review: a facilitator's mode for running post-mortem reviews.

Scheduling (time, facilitator, note-taker, invitees, an ``.ics`` invite), the
review-mode page projected during the meeting (a timeboxed agenda with a
server-driven clock, inline editing, quick-add of action items, a parking lot,
decisions and attendance), ending the review (outcome, status "reviewed",
owners told) and the attendees' pulse afterwards.
"""
