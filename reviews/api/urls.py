"""Routes of the reviews app under /api/v1/: agreement, consensus and disputes."""

from reviews.api import agreement, consensus, disputes

urlpatterns = [*agreement.urlpatterns, *consensus.urlpatterns, *disputes.urlpatterns]
