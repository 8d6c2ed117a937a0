from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Celery tasks log with their task id, as requests log with their request id.
        from operations import requestlog

        requestlog.connect_celery_signals()
