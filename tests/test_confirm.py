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


def test_option_similarity_reads_operators_symbols_and_pronouns():
    matcher = AnswerMatcher()
    assert matcher.similarity("(1 + n v)/(n + v)", "(1+n*v)/(n+v)") == 1.0
    assert matcher.similarity("(1 + n v)/(n + v)", "(1-n*v)/(n+v)") < 1.0  # the same words, another sign
    assert matcher.similarity("X^T X w - X^T y + λw", r"$X^\top X w - X^\top y + \lambda w$") == 1.0
    # "one" is a pronoun here, not a second value
    assert matcher.similarity("The one at roughly 700 Mpc", "The galaxy at ~ 700 Mpc") >= 0.6
    assert matcher.similarity("The one at roughly 700 Mpc", "The galaxy at ~ 70 Mpc") < 0.6


def test_an_answer_that_shows_another_question_contradicts_shared_wording():
    matcher = AnswerMatcher()
    names = ["Cis-propenyl acetate", "Trans-propenyl acetate", "Cis-butenyl acetate", "Trans-butenyl acetate"]
    item = {
        "question": "NMR data ... which ester?",
        "choices": names,
        "answer_text": "Trans-propenyl acetate",
    }
    other_data = {"question": "Other NMR data ... which ester?", "choices": names[::-1],
                  "answer_text": "Cis-propenyl acetate"}  # fmt: skip
    assert "wrong option" in matcher.contradiction(other_data, item)
    copy = item | {"choices": names[::-1]}
    assert matcher.contradiction(copy, item) is None and matcher.evidence(copy, item)
    logic = {"question": "Which is an immediate consequence of the given premises?", "answer_text": "~H",
             "choices": ["~G", "F ⊃ G", "H ⊃ I", "~H"]}  # fmt: skip
    other_premises = {"question": "?", "answer_text": "Q", "choices": ["~R", "R", "Q", "~Q"]}
    assert matcher.contradiction(other_premises, logic) == "no option in common"
    # an item whose options were cut to their first line is no evidence either way
    cut = {"question": "?", "answer_text": "1: A -> B", "choices": ["1: A -> B", "1: C -> D"]}
    full = {
        "question": "?",
        "answer_text": "1: A -> B\n2. B -> E",
        "choices": ["1: A -> B\n2. B -> E", "1: C -> D\n2. D"],
    }
    assert matcher.contradiction(full, cut) is None
    gsm = {"question": "Jim watches TV 2 hours, reads half as long, 3 times a week. Hours in 4 weeks?",
           "choices": None, "answer_text": "... #### 36"}  # fmt: skip
    other_numbers = {"question": "Jim watches TV 3 hours, reads a third as long, 5 times a week. Hours in 2 weeks?",
                     "choices": None, "answer_text": "40"}  # fmt: skip
    assert "another final number" in matcher.contradiction(other_numbers, gsm)
    wrong_answer_copy = gsm | {"answer_text": "30"}  # a copied question with a wrong answer is still a copy
    assert matcher.contradiction(wrong_answer_copy, gsm) is None
