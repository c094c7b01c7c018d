"""Calendar feeds: a person's own iCalendar address, read on a schedule, whose events
time program steps (`source: calendar` triggers) through the delivery outbox.

Only the minimum is kept: an event key (a hash of UID and RECURRENCE-ID) and its
times per matched step; titles and attendees are matched while the feed is read
and never stored. The feed's address is a secret, encrypted at rest (secret.py).
See docs/delivery.md (calendar triggers) and docs/privacy.md (what is kept).
"""
