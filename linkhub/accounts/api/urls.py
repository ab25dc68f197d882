from django.urls import path

from . import views

urlpatterns = [
    path("auth/token/", views.TokenLoginView.as_view(), name="api-token-login"),
    path("auth/tokens/", views.TokenListView.as_view(), name="api-token-list"),
    path("auth/tokens/<id:pk>/", views.TokenRevokeView.as_view(), name="api-token-revoke"),
    path("account/consent/", views.ConsentView.as_view(), name="api-consent"),
]
