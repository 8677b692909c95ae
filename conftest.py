"""Test tiers. `pytest` runs everything (CI); `pytest -m "not slow"` is the fast tier.

Tests that execute notebooks, packages, servers, containers or a browser are `slow`, and
`integration` (or `browser`) as well. They are listed here by module and name, in one place,
so the tiers can be read and changed together; a test may also carry the marks itself.
"""

from __future__ import annotations

import pytest

#: module → test names (without parameters) that are slow integration tests; "*": all
INTEGRATION: dict[str, set[str]] = {
    "test_verify.py": {
        "test_sample_notebooks_are_equal",
        "test_magics_notebook_is_equal_after_normalization",
        "test_unseeded_randomness_is_named",
        "test_first_differing_line_names_its_cell",
        "test_notebook_error",
        "test_notebook_timeout_names_the_running_cell",
        "test_package_error_when_the_notebook_runs",
    },
    "test_sample_notebooks_run.py": {"*"},
    "test_serving.py": {"*"},
    "test_precommit.py": {
        "test_hidden_state_notebook_fails_on_the_right_cell",
        "test_clean_notebook_passes_both_hooks",
        "test_stale_package_fails_naming_notebook_and_command",
    },
    "test_sagemaker.py": {
        "test_generated_tests_pass",
        "test_one_feature_path_for_training_and_serving",
        "test_t2_t8_hyperparameters_strings_script_mode_and_sm_env",
        "test_t5_model_survives_tar_round_trip",
        "test_t7_failure_file_and_exit_code",
        "test_t1_t4_t6_train_reads_every_file_of_the_channel",
        "test_cli_train_lays_out_opt_ml_and_reports_missing_channels",
        "test_t9_sigterm_stops_training_cleanly",
    },
    "test_convert.py": {"test_samples_print_exactly_what_the_notebook_printed"},
}
#: slow but in-process (fuzzing)
SLOW: dict[str, set[str]] = {
    "test_robustness.py": {
        "test_lint_random_cells_never_raises",
        "test_translate_never_raises",
        "test_mutated_notebook_json",
        "test_cli_on_random_file",
    },
}
BROWSER_DIR = "ui_tests"


def _listed(table: dict[str, set[str]], item: pytest.Item) -> bool:
    names = table.get(item.path.name, set())
    return "*" in names or item.name.split("[")[0] in names


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == BROWSER_DIR:
            for mark in ("slow", "integration", "browser"):
                item.add_marker(getattr(pytest.mark, mark))
        elif _listed(INTEGRATION, item):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.integration)
        elif _listed(SLOW, item):
            item.add_marker(pytest.mark.slow)
