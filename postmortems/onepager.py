"""The one-page document's structure: its four sections and the prompts a new
post-mortem starts from (Google SRE book, ch. 15 "Postmortem Culture", and its
example post-mortem). The prompts ask for conditions of the system, never for a
person to blame."""

SECTION_FIELDS = ("what_happened", "why_it_happened", "what_we_change", "what_we_dont_change")

SECTION_TITLES = {
    "what_happened": "What happened",
    "why_it_happened": "Why it happened",
    "what_we_change": "What we change",
    "what_we_dont_change": "What we don't change, and why",
}

SECTION_TEMPLATES = {
    "what_happened": (
        "**Symptom:** what users or other systems saw, and where …\n\n"
        "**Impact:** who/what was affected, for how long, how badly (errors, latency, "
        "data, money) …\n\n"
        "**Detection:** how we found out, and how long that took …"
    ),
    "why_it_happened": (
        "**Proximate cause:** the change or condition that triggered the incident …\n\n"
        "**Contributing system factors:** what let it happen and made it worse … "
        "(describe conditions of the system, not people)"
    ),
    "what_we_change": (
        "Each change is an action item below, with an owner and a due date — specific "
        'tests, checks or process changes, never "be more careful".'
    ),
    "what_we_dont_change": "Changes we considered and declined, and why.",
}


def is_filled(name: str, text: str | None) -> bool:
    """True when section ``name`` holds more than whitespace and its bare prompt."""
    value = (text or "").strip()
    return bool(value) and value != SECTION_TEMPLATES[name].strip()
