"""admin_evaluations (filled in by the policy-loop work)."""
