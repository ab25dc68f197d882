from django.urls import path

from . import views

app_name = "mlops"

urlpatterns = [
    path("links/<int:pk>/suggestions/<str:action>/", views.suggestion_decide, name="decide"),
    path("models/", views.model_list, name="models"),
    path("models/dashboard/", views.dashboard, name="dashboard"),
    path("models/dashboard/data.json", views.dashboard_data, name="dashboard_data"),
    path("models/dashboard/alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("models/dashboard/alert-rules/<int:pk>/snooze/", views.alert_snooze, name="alert_snooze"),
    path("models/train/", views.train_now, name="train"),
    path("models/training/<int:pk>/", views.training_progress, name="training_progress"),
    path("models/<int:number>/", views.model_card, name="card"),
    path("models/<int:number>/card.md", views.model_card_markdown, name="card_md"),
    path("models/<int:number>/stage/", views.stage_change, name="stage"),
    path("models/<int:number>/rollback/", views.rollback, name="rollback"),
]
