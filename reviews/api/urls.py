"""Routes of the reviews app under /api/v1/: agreement, consensus, disputes and the model
leaderboard."""

from reviews.api import agreement, consensus, disputes, leaderboard

urlpatterns = [
    *agreement.urlpatterns,
    *consensus.urlpatterns,
    *disputes.urlpatterns,
    *leaderboard.urlpatterns,
]
