"""Console URLs for this concern, included from console/urls.py."""

urlpatterns: list = []
