from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/static/<str:name>", views.static),
    path("dashboard/page/<slug:name>", views.page_view),
    path("dashboard/action/<slug:name>", views.action_view),
    # extension URLs: the same shell, opened on another page
    path("dashboard/order", views.shell, {"page_name": "order"}),
    path("dashboard/about", views.about),
]
