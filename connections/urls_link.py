from django.urls import path

from .views import link

# Public: no login. The token is the only thing that grants access, and only to submit a key.
urlpatterns = [
    path("link/<str:token>/", link.link, name="link"),
    path("link/<str:token>/done/", link.link_done, name="link-done"),
]
