"""Experiments: arms of one hypothesis run through the whole flow, their records, and the comparison of arms
against the baseline (the untrained model) and the same-budget control."""
