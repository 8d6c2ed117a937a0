"""Seed the shared contributing-factor taxonomy.

The rows are frozen here (not imported from application code) so this migration
means the same thing forever. Admins extend the taxonomy afterwards. There is
deliberately no "human error" factor: a contributing factor names a condition of
the system that made an error likely or harmful, never a person.
"""

from django.db import migrations

# (slug, name, category, description, suggested Definition-of-Done item)
FACTORS = [
    ("config-change", "Configuration change", "change",
     "A change to configuration, flags or infrastructure settings triggered or widened the incident.",
     "Configuration changes are validated by an automated check and rolled out progressively with a tested rollback."),
    ("code-change", "Code change", "change",
     "A code change introduced the faulty behaviour.",
     "Every behaviour change ships with a test that fails without it and passes with it."),
    ("deploy-process", "Deploy process", "change",
     "The way changes reach production (pipeline, rollout, rollback) let the fault through or slowed recovery.",
     "The change is released behind a canary or staged rollout with automatic rollback on error-rate alerts."),
    ("schema-migration", "Schema or data migration", "change",
     "A database schema or data migration locked, broke or corrupted data in production.",
     "Migrations are rehearsed on a production-sized copy and are backward compatible with the running version."),
    ("dependency-upgrade", "Dependency upgrade", "change",
     "Upgrading a library, runtime, image or platform version changed behaviour unexpectedly.",
     "Dependency upgrades run the full integration suite and name the changelog entries that affect us."),
    ("missing-test", "Missing test", "verification",
     "No automated test covered the path that failed.",
     "The failing scenario from the post-mortem exists as an automated regression test."),
    ("env-mismatch", "Environment mismatch", "verification",
     "Test or staging environments differed from production in a way that hid the fault.",
     "Differences between staging and production that matter for this change are listed and checked."),
    ("review-gap", "Review gap", "verification",
     "Code or change review did not have the context or checklist to catch the problem.",
     "The reviewer confirms the risk checklist for the touched area, including failure modes and rollback."),
    ("capacity", "Capacity", "design",
     "Load exceeded what the system was provisioned or designed to handle.",
     "Capacity impact is estimated and a load test or headroom alert covers the new path."),
    ("race-condition", "Race condition", "design",
     "Concurrent operations interleaved in an order the design did not handle.",
     "Concurrent access to shared state is documented and covered by a concurrency test."),
    ("error-handling", "Error handling", "design",
     "An error was swallowed, mis-classified or handled in a way that made things worse.",
     "Every new external call has explicit timeout, error and partial-failure handling with a test."),
    ("retry-storm", "Retry storm", "design",
     "Retries without backoff, jitter or budgets amplified load on a struggling component.",
     "Retries use exponential backoff with jitter and a retry budget; the client honours back-pressure."),
    ("cascading-failure", "Cascading failure", "design",
     "A failure in one component spread to others that depended on it.",
     "Dependencies have timeouts, circuit breakers or load shedding so one failure stays contained."),
    ("single-point-of-failure", "Single point of failure", "design",
     "One component, zone, host or person had no redundancy.",
     "New critical components have a redundancy plan and a tested failover."),
    ("time-handling", "Time handling", "design",
     "Clocks, time zones, leap seconds, date arithmetic or expiry dates were handled incorrectly.",
     "Date and time logic is tested across time zones, DST changes, leap days and leap seconds."),
    ("input-validation", "Input validation", "design",
     "Unexpected or malformed input was accepted and caused failure downstream.",
     "Inputs crossing a trust boundary are validated against a schema, with tests for malformed cases."),
    ("monitoring-gap", "Monitoring gap", "operations",
     "Monitoring or alerting did not detect the problem, or detected it late.",
     "The change ships with a dashboard or alert that would detect its failure within minutes."),
    ("runbook-gap", "Runbook gap", "operations",
     "Responders lacked an accurate runbook or procedure for this situation.",
     "Operational changes update the runbook, including how to diagnose and roll back."),
    ("manual-operation", "Manual operation", "operations",
     "A manual step or command, without guard rails, produced an unintended effect.",
     "Risky manual operations are scripted with a dry run, confirmation of scope and a peer check."),
    ("access-control", "Access control", "operations",
     "Permissions were too broad, too narrow or misconfigured.",
     "Permission changes follow least privilege and are reviewed with a test of who can and cannot act."),
    ("expired-credential", "Expired credential", "operations",
     "A certificate, key, token or licence expired or was rotated without its consumers.",
     "Every certificate and credential has an owner, an expiry alert at least 30 days ahead and automated renewal."),
    ("third-party-failure", "Third-party failure", "external",
     "A vendor, cloud provider or external service failed or changed behaviour.",
     "Each external dependency has a documented degradation mode and a test of it."),
    ("hardware-failure", "Hardware failure", "external",
     "Servers, disks, power, cooling or other physical infrastructure failed.",
     "Hardware-dependent changes are checked against the loss of a host, rack or zone."),
    ("network-failure", "Network failure", "external",
     "Network connectivity, routing (BGP), DNS or load balancing failed.",
     "Network and DNS changes are staged, validated against a model of the network and have a rollback path."),
    ("unclear-ownership", "Unclear ownership", "organisation",
     "It was unclear which team owned the system, the alert or the decision.",
     "Every new service, alert and runbook names an owning team in the service catalogue."),
    ("knowledge-gap", "Knowledge gap", "organisation",
     "The people involved lacked information or context that existed elsewhere in the organisation.",
     "Design notes capture assumptions and known risks, and are linked from the change."),
    ("time-pressure", "Time pressure", "organisation",
     "Deadlines or incident urgency pushed decisions with less verification than usual.",
     "Changes made under deadline pressure carry an explicit, tracked list of skipped checks."),
]


def seed(apps, schema_editor):
    ContributingFactor = apps.get_model("postmortems", "ContributingFactor")
    for slug, name, category, description, dod in FACTORS:
        ContributingFactor.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "category": category,
                "description": description,
                "suggested_dod_item": dod,
            },
        )


def unseed(apps, schema_editor):
    ContributingFactor = apps.get_model("postmortems", "ContributingFactor")
    ContributingFactor.objects.filter(slug__in=[row[0] for row in FACTORS]).delete()


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
