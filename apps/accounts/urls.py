from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout, name="logout"),
    path("me/", views.profile, name="profile"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<str:token_key>/revoke/", views.token_revoke, name="token-revoke"),
    path("ssh-keys/", views.ssh_key_list_view, name="ssh-keys"),
    path("ssh-keys/<int:key_id>/delete/", views.ssh_key_delete_view, name="ssh-key-delete"),
]
