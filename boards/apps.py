from django.apps import AppConfig


class BoardsConfig(AppConfig):
    name = "boards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models import ForeignKey, IntegerField

        from core.lookups import OneOf

        IntegerField.register_lookup(OneOf)
        ForeignKey.register_lookup(OneOf)
