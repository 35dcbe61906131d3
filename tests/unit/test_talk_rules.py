"""Who may join an activity when the publisher does not say (models/activities/rules.py)."""

from __future__ import annotations

import pytest

from models.activities import KINDS, PARTY_LIFE, default_audience


@pytest.mark.parametrize("kind", PARTY_LIFE)
def test_party_life_is_the_branchs_wherever_it_is_published(kind):
    assert default_audience(kind, community_group=True) == "org"
    assert default_audience(kind, community_group=False) == "org"


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in PARTY_LIFE])
def test_in_a_community_group_the_rest_is_for_everyone(kind):
    assert default_audience(kind, community_group=True) == "everyone"


def test_elsewhere_only_open_activities_are_for_everyone():
    assert default_audience("open", community_group=False) == "everyone"
    assert default_audience("volunteer", community_group=False) == "org"
