"""factory_boy factories for the domain models."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from postmortems.models import (
    ActionItem,
    ContributingFactor,
    DeclinedChange,
    FixPullRequest,
    PostMortem,
    Service,
    Team,
    TeamMembership,
    TimelineEntry,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw-for-tests-123")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())


class TeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda s: s.slug.replace("-", " ").title())
    team = factory.SubFactory(TeamFactory)


def factor(slug: str) -> ContributingFactor:
    """A seeded contributing factor by slug (the taxonomy comes from a migration)."""
    return ContributingFactor.objects.get(slug=slug)


class PostMortemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PostMortem
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Checkout errors after release {n}")
    team = factory.SubFactory(TeamFactory)
    severity = PostMortem.Severity.SEV2
    status = PostMortem.Status.DRAFT
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=3))
    detected_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(minutes=7))
    mitigated_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(minutes=40))
    resolved_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(hours=2))
    what_happened = "Checkout returned HTTP 500 for 12% of requests for 40 minutes."
    why_it_happened = "A configuration change removed the payment timeout default."
    what_we_change = "Add a schema check for the payment configuration."
    what_we_dont_change = "We keep the current deploy cadence."

    @factory.post_generation
    def factors(self, create, extracted, **kwargs):
        if create and extracted:
            self.factors.set(extracted)

    @factory.post_generation
    def authors(self, create, extracted, **kwargs):
        if create and extracted:
            self.authors.set(extracted)

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create and extracted:
            self.services.set(extracted)


class TimelineEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEntry

    postmortem = factory.SubFactory(PostMortemFactory)
    at = factory.LazyAttribute(lambda o: o.postmortem.started_at)
    text = "Error-rate alert fired for checkout."


class ActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionItem

    postmortem = factory.SubFactory(PostMortemFactory)
    text = "Add a contract test for the payment timeout setting"
    kind = ActionItem.Kind.TEST
    owner = factory.SubFactory(UserFactory)
    due_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=14))


class DeclinedChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeclinedChange

    postmortem = factory.SubFactory(PostMortemFactory)
    text = "Freeze all deploys on Fridays"
    rationale = "The fault was not tied to the day; a freeze would only delay fixes."


class FixPullRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FixPullRequest

    postmortem = factory.SubFactory(PostMortemFactory)
    number = factory.Sequence(lambda n: n + 1)
    repository = "acme/shop"
    url = factory.LazyAttribute(lambda o: f"https://github.com/{o.repository}/pull/{o.number}")
    title = "Restore payment timeout default"
