from __future__ import annotations

from pathlib import Path

import pytest

from taskseed.core.errors import TaskseedError
from taskseed.sources.licenses import LicensePolicy, LicenseTable

TABLE = LicenseTable.load(Path(__file__).resolve().parents[1] / "conf" / "tables" / "licenses.yaml")


def test_table_lookup_by_dataset_and_config():
    assert TABLE.license_of("openai/gsm8k", "main") == "MIT"
    assert TABLE.license_of("aps/super_glue", "copa") == "BSD-2-Clause"
    assert TABLE.license_of("aps/super_glue", "cb") == "unknown"
    assert TABLE.license_of("no/such", None) == "unknown"
    assert TABLE.class_of("CC-BY-NC-4.0") == "noncommercial"


@pytest.mark.parametrize(
    ("policy", "allow_unknown", "license_id", "admitted"),
    [
        ("commercial", False, "MIT", True),
        ("commercial", False, "CC-BY-SA-4.0", True),
        ("commercial", False, "CC-BY-NC-4.0", False),
        ("research", False, "CC-BY-NC-4.0", True),
        ("permissive", False, "CC-BY-SA-4.0", False),
        ("commercial", False, "unknown", False),
        ("commercial", True, "unknown", True),
        (["MIT"], False, "MIT", True),
        (["MIT"], False, "Apache-2.0", False),
        (["MIT", "unknown"], False, "unknown", True),
    ],
)
def test_policy(policy, allow_unknown, license_id, admitted):
    p = LicensePolicy.from_config(policy, allow_unknown, TABLE)
    ok, reason = p.admits(license_id, TABLE.class_of(license_id))
    assert ok is admitted
    if not ok:
        assert reason.startswith("license[")


def test_unknown_policy_is_a_user_error():
    with pytest.raises(TaskseedError, match="unknown license policy 'open'"):
        LicensePolicy.from_config("open", False, TABLE)


def test_replay_corpus_licenses_and_license_choices():
    assert (
        TABLE.class_of("Public Domain") == "permissive"
        and TABLE.class_of("GFDL-1.3-or-later") == "share-alike"
    )
    # "A OR B" is the licensee's choice: the most permissive known alternative decides
    assert TABLE.class_of("GPL-2.0-or-later OR CC-BY-SA-3.0") == "share-alike"
    assert TABLE.class_of("Made-Up-1.0 OR MIT") == "permissive"
    assert TABLE.class_of("Made-Up-1.0 OR Other-2.0") == "unknown"
