"""Parsing is total: a corpus of malformed model outputs, each with the rejection it must get."""

from __future__ import annotations

import json

import pytest

from taskseed.synth.parsing import parse_generation

MC = {
    "question": "Which planet is known as the red planet?",
    "answer": "Mars",
    "distractors": ["Venus", "Jupiter", "Saturn"],
}
MATH = {
    "question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
    "solution": "3 + 4 = 7",
    "final_answer": 7,
}
CODE = {
    "question": "Write a function add(a, b) that returns the sum.",
    "solution": "def add(a, b):\n    return a + b",
    "tests": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"],
}
SHORT = {"question": "What is the capital city of France called?", "answer": "Paris"}


def corpus() -> list[tuple[str, str, str, str]]:
    """(name, kind, text, expected reason) — more than 200 malformed outputs."""
    cases: list[tuple[str, str, str, str]] = []
    full = json.dumps(MC)
    for cut in range(1, len(full) - 1):  # truncated anywhere
        cases.append((f"truncated@{cut}", "mc", full[:cut], "truncated"))
    for key in MC:
        cases.append(
            (
                f"missing {key}",
                "mc",
                json.dumps({k: v for k, v in MC.items() if k != key}),
                f"missing-field:{key}",
            )
        )
    for bad in ([1, 2], 42, None, {"a": 1}, True):
        cases.append((f"question={bad!r}", "mc", json.dumps({**MC, "question": bad}), "wrong-type:question"))
        if not isinstance(bad, (int, float)) or isinstance(bad, bool):
            cases.append((f"answer={bad!r}", "mc", json.dumps({**MC, "answer": bad}), "wrong-type:answer"))
    for bad in ("Venus", 3, {"x": "y"}):
        cases.append(
            (f"distractors={bad!r}", "mc", json.dumps({**MC, "distractors": bad}), "wrong-type:distractors")
        )
    cases.append(
        (
            "distractor item null",
            "mc",
            json.dumps({**MC, "distractors": ["Venus", None, "Saturn"]}),
            "wrong-type:distractors",
        )
    )
    for n in (0, 1, 2, 4, 5):
        cases.append(
            (
                f"{n} distractors",
                "mc",
                json.dumps({**MC, "distractors": [f"Option {i}" for i in range(n)]}),
                "wrong-choice-count",
            )
        )
    for dup in (
        ["Venus", "Venus", "Saturn"],
        ["Venus", "venus", "Saturn"],
        ["Venus", " Venus ", "Saturn"],
        ["Venus!", "venus", "Saturn"],
    ):
        cases.append((f"duplicates {dup}", "mc", json.dumps({**MC, "distractors": dup}), "duplicate-choices"))
    for same in ("Mars", "mars", "MARS.", " Mars "):
        cases.append(
            (
                f"answer among distractors {same!r}",
                "mc",
                json.dumps({**MC, "distractors": [same, "Venus", "Saturn"]}),
                "answer-among-distractors",
            )
        )
    for answer in ("Pluto", "E", "the fourth one", "Marsh"):
        shape = {
            "question": MC["question"],
            "choices": ["Mars", "Venus", "Jupiter", "Saturn"],
            "answer": answer,
        }
        cases.append((f"answer not in choices {answer!r}", "mc", json.dumps(shape), "answer-not-in-choices"))
    cases.append(
        (
            "answer index out of range",
            "mc",
            json.dumps(
                {
                    "question": MC["question"],
                    "choices": ["Mars", "Venus", "Jupiter", "Saturn"],
                    "answer_index": 9,
                }
            ),
            "answer-not-in-choices",
        )
    )
    for empty in ("", " ", "\n\n", "\t"):
        cases.append((f"empty {empty!r}", "mc", empty, "empty-output"))
    for key in ("question", "answer"):
        for blank in ("", "   "):
            cases.append((f"blank {key}", "mc", json.dumps({**MC, key: blank}), f"empty-field:{key}"))
    cases.append(
        (
            "blank distractor",
            "mc",
            json.dumps({**MC, "distractors": ["Venus", "", "Saturn"]}),
            "empty-field:distractors",
        )
    )
    cases.append(
        ("enormous output", "mc", json.dumps({**MC, "question": "why " * 10_000}), "too-long:output")
    )
    cases.append(
        (
            "enormous question",
            "mc",
            json.dumps({**MC, "question": "Which planet " * 100 + "?"}),
            "too-long:question",
        )
    )
    cases.append(("enormous option", "mc", json.dumps({**MC, "answer": "Mars " * 100}), "too-long:answer"))
    for text in (
        "哪颗行星被称为红色星球？请从下列选项中选择正确的答案",
        "Какая планета известна как красная планета среди всех",
        "ما هو الكوكب المعروف بالكوكب الأحمر في النظام",
        "Ποιος πλανήτης είναι γνωστός ως ο κόκκινος πλανήτης;",
    ):
        cases.append((f"language {text[:6]}", "mc", json.dumps({**MC, "question": text}), "wrong-language"))
    cases.append(
        (
            "foreign options",
            "mc",
            json.dumps(
                {
                    **MC,
                    "answer": "Марс красная планета",
                    "distractors": ["Венера планета", "Юпитер планета", "Сатурн планета"],
                }
            ),
            "wrong-language",
        )
    )
    for text in (
        "[1, 2, 3]",
        "42",
        '"just a string"',
        "null",
        "true",
        "Sure! Here is a question about planets.",
        "I cannot help with that.",
    ):
        cases.append((f"no object {text[:10]}", "mc", text, "no-json"))
    for text in (
        "{'question': 'single quotes', 'answer': 'x'}",
        '{"question": "trailing comma", "answer": "x",} more',
        '{"question" "no colon"} and more',
        '{question: "unquoted keys"} and more',
    ):
        cases.append((f"invalid {text[:12]}", "mc", text, "invalid-json"))
    cases.append(
        (
            "copy of an example",
            "mc",
            json.dumps({**MC, "question": "which planet is known as THE RED PLANET"}),
            "copies-example",
        )
    )
    # math
    for final in ("seven", "7 apples or 8", "", None, True, [7], "NaN"):
        expect = "non-numeric-answer"
        cases.append((f"math final {final!r}", "math", json.dumps({**MATH, "final_answer": final}), expect))
    for key in MATH:
        cases.append(
            (
                f"math missing {key}",
                "math",
                json.dumps({k: v for k, v in MATH.items() if k != key}),
                f"missing-field:{key}",
            )
        )
    full_math = json.dumps(MATH)
    for cut in range(5, len(full_math) - 1, 9):
        cases.append((f"math truncated@{cut}", "math", full_math[:cut], "truncated"))
    # code
    cases.append(
        (
            "code syntax",
            "code",
            json.dumps({**CODE, "solution": "def add(a, b) return a + b"}),
            "solution-syntax-error",
        )
    )
    cases.append(
        (
            "code defines nothing",
            "code",
            json.dumps({**CODE, "solution": "x = 1"}),
            "solution-defines-nothing",
        )
    )
    for test in ("add(1, 2) == 3", "print(add(1, 2))", "assert add(1, 2 == 3"):
        cases.append(
            (
                f"bad test {test}",
                "code",
                json.dumps({**CODE, "tests": [test, "assert add(0, 0) == 0"]}),
                "bad-test",
            )
        )
    cases.append(
        (
            "tests call nothing",
            "code",
            json.dumps({**CODE, "tests": ["assert 1 == 1", "assert sub(1) == 0"]}),
            "tests-do-not-call-solution",
        )
    )
    cases.append(
        (
            "tests not a list",
            "code",
            json.dumps({**CODE, "tests": "assert add(1, 2) == 3"}),
            "wrong-type:tests",
        )
    )
    for key in CODE:
        cases.append(
            (
                f"code missing {key}",
                "code",
                json.dumps({k: v for k, v in CODE.items() if k != key}),
                f"missing-field:{key}",
            )
        )
    # short answer
    for key in SHORT:
        cases.append(
            (
                f"short missing {key}",
                "short",
                json.dumps({k: v for k, v in SHORT.items() if k != key}),
                f"missing-field:{key}",
            )
        )
    cases.append(
        ("short answer list", "short", json.dumps({**SHORT, "answer": ["Paris"]}), "wrong-type:answer")
    )
    full_code = json.dumps(CODE)
    for cut in range(3, len(full_code) - 1, 11):
        cases.append((f"code truncated@{cut}", "code", full_code[:cut], "truncated"))
    for prose in (
        "Question: Which planet is red? Answer: Mars",
        "The answer is Mars.",
        "Mars",
        "A",
        "```python\nprint('hi')\n```",
        "<json>question</json>",
    ):
        cases.append((f"prose {prose[:12]}", "mc", prose, "no-json"))
    for doubled in (
        '{"question": "a", "question": }',
        '{"question": "unterminated \\" }x',
        '{"question": "ok", "answer": tru}',
        '{"question": "ok", "answer": 01}',
    ):
        cases.append((f"broken {doubled[:14]}", "mc", doubled + " tail", "invalid-json"))
    return cases


CASES = corpus()


def test_the_corpus_is_large():
    assert len(CASES) >= 200


@pytest.mark.parametrize(("name", "kind", "text", "reason"), CASES, ids=[c[0] for c in CASES])
def test_malformed_output_is_rejected_with_its_reason(name, kind, text, reason):
    finish = "length" if "truncated" in name else "stop"
    parsed = parse_generation(
        text,
        kind,
        n_choices=4,
        finish_reason=finish,
        examples=["Which planet is known as the red planet"] if name == "copy of an example" else [],
    )
    assert not parsed.ok and parsed.reason == reason, (parsed.reason, parsed.detail)


@pytest.mark.parametrize(
    ("kind", "payload", "wrapper"),
    [
        ("mc", MC, "{}"),
        ("mc", MC, "```json\n{}\n```"),
        ("mc", MC, "Here you go:\n{}\nHope this helps!"),
        ("math", MATH, "{}"),
        ("code", CODE, "{}"),
        ("short", SHORT, "{}"),
    ],  # fmt: skip
)
def test_wellformed_outputs_parse(kind, payload, wrapper):
    parsed = parse_generation(wrapper.replace("{}", json.dumps(payload)), kind, n_choices=4)
    assert parsed.ok, (parsed.reason, parsed.detail)
    if kind == "mc":
        assert (
            parsed.answer_text == "Mars"
            and parsed.choices[parsed.answer_index] == "Mars"
            and sorted(parsed.choices) == sorted(["Mars", "Venus", "Jupiter", "Saturn"])
        )
    if kind == "math":
        assert parsed.answer_text.endswith("#### 7") and parsed.reference["final_answer"] == 7


def test_answer_position_is_shuffled_but_reproducible():
    positions = {
        parse_generation(json.dumps(MC), "mc", 4, shuffle_seed=str(i)).answer_index for i in range(40)
    }
    assert positions == {0, 1, 2, 3}
    assert (
        parse_generation(json.dumps(MC), "mc", 4, shuffle_seed="x").choices
        == parse_generation(json.dumps(MC), "mc", 4, shuffle_seed="x").choices
    )


def test_nothing_escapes_on_random_bytes():
    import random

    rng = random.Random(0)
    for _ in range(300):
        junk = "".join(rng.choice('{}[]":,abc\\\n 0123') for _ in range(rng.randint(0, 60)))
        for kind in ("mc", "short", "math", "code"):
            assert parse_generation(junk, kind, 4).reason is not None


def test_raw_control_characters_inside_strings_are_accepted():
    # Constrained decoders may emit a literal newline or tab inside a JSON string; the content is fine.
    text = json.dumps(SHORT).replace("the capital city", "the capital\tcity\n")
    parsed = parse_generation(text, "short")
    assert parsed.ok and "capital\tcity\n" in parsed.question
