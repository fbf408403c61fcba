"""Pages of the reviews app: the lead's sprint dashboard, the reviewer's dispute queue and the
model leaderboard."""

from reviews.pages import dashboard, disputes, leaderboard

urlpatterns = [*dashboard.urlpatterns, *disputes.urlpatterns, *leaderboard.urlpatterns]
