"""pages_policies (filled in by the policy-loop work)."""

urlpatterns: list = []
