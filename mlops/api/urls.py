from django.urls import path

from . import views

urlpatterns = [
    path("links/<int:pk>/suggestions/", views.LinkSuggestionsView.as_view(), name="api-link-suggestions"),
    path("links/<int:pk>/decisions/", views.LinkDecisionsView.as_view(), name="api-link-decisions"),
    path("mlops/models/", views.ModelListView.as_view(), name="api-models"),
    path("mlops/models/train/", views.ModelTrainView.as_view(), name="api-models-train"),
    path("mlops/models/<int:number>/", views.ModelDetailView.as_view(), name="api-model-detail"),
    path("mlops/models/<int:number>/promote/", views.ModelPromoteView.as_view(), name="api-model-promote"),
    path("mlops/models/<int:number>/rollback/", views.ModelRollbackView.as_view(), name="api-model-rollback"),
    path("mlops/training/<int:pk>/", views.TrainingRunView.as_view(), name="api-training-run"),
    path("mlops/metrics/", views.MetricsView.as_view(), name="api-metrics"),
]
