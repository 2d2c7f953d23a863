"""Answer-aware confirmation: a disguised item keeps its answer and answer space; another question does not."""

from __future__ import annotations

from taskseed.filter.confirm import AnswerMatcher, final_number, numbers


def test_values_are_read_in_every_notation():
    assert numbers("2.6 × 10^5 GeV") == numbers("2.6*1e5 GeV") == numbers("2.6e5") == ["260000"]
    assert numbers("1.7 $10^{-2} \\mathrm{~s}$") == numbers("1.7 × 10^-2 s") == ["0.017"]
    assert numbers("Eight polygenes, 3 inches each") == ["8", "3"] and numbers("someone") == []
    assert final_number("He pays 3500*.5=$1750\n#### 1,750") == "1750"


def test_a_reworded_multiple_choice_item_is_confirmed_and_a_new_question_is_not():
    item = {"question": "How many polygenes?", "answer_text": "Eight polygenes, 3 inches each",
            "choices": ["Three polygenes, 8 inches each", "Eight polygenes, 3 inches each",
                        "Six polygenes, 4 inches each", "Twelve polygenes, 2 inches each"]}  # fmt: skip
    disguised = {"question": "?", "answer_text": "8 polygenes, adding 3 inches apiece",
                 "choices": ["12 polygenes, adding 2 inches apiece", "8 polygenes, adding 3 inches apiece",
                             "3 polygenes, adding 8 inches apiece", "6 polygenes, adding 4 inches apiece"]}  # fmt: skip
    matcher = AnswerMatcher()
    assert matcher.evidence(disguised, item).startswith("the correct option matches")
    # the same options with another correct answer: another question about the same setting
    other = disguised | {"answer_text": "3 polygenes, adding 8 inches apiece"}
    assert matcher.evidence(other, item) is None
    formula = {
        "question": "?",
        "answer_text": "(1+n*v)/(n+v)",
        "choices": ["(1-n*v)/(n+v)", "(1+n*v)/(n+v)", "1", "(1+n*v)/(n-v)"],
    }
    reworded = {"question": "?", "answer_text": "(1 + n v)/(n + v)",
                "choices": ["(1 + n v)/(n - v)", "(1 - n v)/(n + v)", "1", "(1 + n v)/(n + v)"]}  # fmt: skip
    assert matcher.evidence(reworded, formula) is not None


def test_a_math_item_needs_its_final_number_and_its_givens():
    item = {"question": "Tom buys 500 cans a week at $7 and pays half. What does he pay?", "choices": None,
            "answer_text": "500*7=3500, 3500*.5=1750 #### 1750"}  # fmt: skip
    disguised = {"question": "Each week Tom gets 500 cans costing $7 but covers only half; his cost?",
                 "choices": None, "answer_text": "1750"}  # fmt: skip
    same_answer_other_givens = {"question": "A shop sells 35 boxes at $50. Revenue?", "choices": None,
                                "answer_text": "1750"}  # fmt: skip
    matcher = AnswerMatcher()
    assert "same final number 1750" in matcher.evidence(disguised, item)
    assert matcher.evidence(same_answer_other_givens, item) is None
    assert matcher.evidence(disguised | {"answer_text": "1800"}, item) is None
