"""Pages of the reviews app: the lead's sprint dashboard and the reviewer's dispute queue."""

from reviews.pages import dashboard, disputes

urlpatterns = [*dashboard.urlpatterns, *disputes.urlpatterns]
