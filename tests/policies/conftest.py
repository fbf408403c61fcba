"""Fixtures of the policy tests, from their modules (evaluation_fixtures: a sprint of grounded
items with its export, two policies that answer differently, a trained reward model)."""

from tests.policies.evaluation_fixtures import (  # noqa: F401 (fixtures)
    grounded,
    grounded_reward_dir,
    policies,
)
