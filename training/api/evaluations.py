"""REST views of evaluations (filled in by the policy-loop work)."""

urlpatterns: list = []
