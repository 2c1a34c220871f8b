"""seasonal_period: steps per calendar season for every frequency the registered datasets use; same_frequency."""

import pytest

from samovar.data import DATASETS
from samovar.data.frequency import describe_step, same_frequency, seasonal_period


@pytest.mark.parametrize(("freq", "period"), [
    ("h", 24), ("2h", 12), ("15min", 96), ("10min", 144), ("5min", 288), ("min", 1440),
    ("D", 7), ("B", 5), ("W", 52), ("W-TUE", 52), ("MS", 12), ("ME", 12), ("QS", 4), ("3MS", 4),
    ("H", 24), ("M", 12), ("Q", 4),  # spellings pandas 3 refuses, read as meant
    ("YS", None), ("7min", None), ("2D", None), (None, None),
])
def test_seasonal_period(freq, period):
    assert seasonal_period(freq) == period


def test_every_registered_dataset_has_a_season():
    for spec in DATASETS.values():
        assert seasonal_period(spec.freq) is not None, spec.name


def test_bad_alias_names_the_problem():
    with pytest.raises(ValueError, match="not a pandas frequency alias"):
        seasonal_period("fortnightly")


def test_same_frequency_compares_mean_steps_and_describe_step_says_them():
    assert same_frequency("h", "60min") and same_frequency("H", "h") and same_frequency("W-SUN", "W-TUE")
    assert same_frequency("MS", "ME") and not same_frequency("D", "B") and not same_frequency("10min", "15min")
    assert (describe_step("h"), describe_step("D"), describe_step("W")) == ("01:00:00", "1 day", "7 days")
