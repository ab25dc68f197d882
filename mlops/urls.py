from django.urls import path

from . import views

app_name = "mlops"

urlpatterns = [
    path("links/<id:pk>/suggestions/<str:action>/", views.suggestion_decide, name="decide"),
    path("models/", views.model_list, name="models"),
    path("models/dashboard/", views.dashboard, name="dashboard"),
    path("models/dashboard/data.json", views.dashboard_data, name="dashboard_data"),
    path("models/dashboard/alerts/<id:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("models/dashboard/alert-rules/<id:pk>/snooze/", views.alert_snooze, name="alert_snooze"),
    path("models/train/", views.train_now, name="train"),
    path("models/training/<id:pk>/", views.training_progress, name="training_progress"),
    path("models/<id:number>/", views.model_card, name="card"),
    path("models/<id:number>/card.md", views.model_card_markdown, name="card_md"),
    path("models/<id:number>/stage/", views.stage_change, name="stage"),
    path("models/<id:number>/rollback/", views.rollback, name="rollback"),
]
