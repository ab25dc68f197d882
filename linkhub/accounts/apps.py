from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "linkhub.accounts"
    label = "accounts"
    verbose_name = "Accounts"
