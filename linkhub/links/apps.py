from django.apps import AppConfig


class LinksConfig(AppConfig):
    name = "linkhub.links"
    label = "links"
    verbose_name = "Links"
