from django.urls import path

from . import views

urlpatterns = [
    path("links/<id:pk>/suggestions/", views.LinkSuggestionsView.as_view(), name="api-link-suggestions"),
    path("links/<id:pk>/decisions/", views.LinkDecisionsView.as_view(), name="api-link-decisions"),
    path("mlops/personal/", views.PersonalModelView.as_view(), name="api-personal-model"),
    path("mlops/models/", views.ModelListView.as_view(), name="api-models"),
    path("mlops/models/train/", views.ModelTrainView.as_view(), name="api-models-train"),
    path("mlops/models/<id:number>/", views.ModelDetailView.as_view(), name="api-model-detail"),
    path("mlops/models/<id:number>/promote/", views.ModelPromoteView.as_view(), name="api-model-promote"),
    path("mlops/models/<id:number>/rollback/", views.ModelRollbackView.as_view(), name="api-model-rollback"),
    path("mlops/training/<id:pk>/", views.TrainingRunView.as_view(), name="api-training-run"),
    path("mlops/metrics/", views.MetricsView.as_view(), name="api-metrics"),
    path("mlops/drift/", views.DriftListView.as_view(), name="api-drift"),
    path("mlops/drift/run/", views.DriftRunView.as_view(), name="api-drift-run"),
    path("mlops/drift/<id:pk>/", views.DriftDetailView.as_view(), name="api-drift-detail"),
    path("mlops/alerts/", views.AlertListView.as_view(), name="api-alerts"),
    path("mlops/alerts/timings/", views.AlertTimingsView.as_view(), name="api-alert-timings"),
    path("mlops/alerts/<id:pk>/ack/", views.AlertAckView.as_view(), name="api-alert-ack"),
    path("mlops/alert-rules/", views.AlertRuleListView.as_view(), name="api-alert-rules"),
    path("mlops/alert-rules/<id:pk>/", views.AlertRuleDetailView.as_view(), name="api-alert-rule"),
]
