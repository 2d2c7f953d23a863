"""Code scoring without the Hub: lm-eval's own HumanEval and MBPP scoring functions, served by taskseed's
sandboxed `code_eval`: right programs pass, wrong ones fail, hostile ones score 0 and harm nothing."""

from __future__ import annotations

import json
import time

import pytest

from taskseed.evaluation.code import SandboxCodeEval, local_code_eval, pass_at_k

from .conftest import MIRROR


def _rows(rel: str, n: int) -> list[dict]:
    with open(MIRROR / rel) as fh:
        return [json.loads(next(fh)) for _ in range(n)]


@pytest.fixture(scope="module")
def lm_eval_code():
    with local_code_eval():  # their modules call evaluate.load("code_eval") when imported
        from lm_eval.tasks.humaneval import utils as humaneval
        from lm_eval.tasks.mbpp import utils as mbpp
    return humaneval, mbpp


def test_known_correct_and_wrong_humaneval_completions(lm_eval_code, mirror):
    humaneval, _ = lm_eval_code
    docs = _rows("openai/openai_humaneval/default/test.jsonl", 3)
    references = [f"{d['test']}\ncheck({d['entry_point']})" for d in docs]  # the task's doc_to_target
    right = humaneval.build_predictions([[d["canonical_solution"]] for d in docs], docs)
    wrong = humaneval.build_predictions([["    return None\n"] for _ in docs], docs)
    assert humaneval.pass_at_k(references, right, k=[1]) == {"pass@1": 1.0}
    assert humaneval.pass_at_k(references, wrong, k=[1]) == {"pass@1": 0.0}


def test_known_correct_and_wrong_mbpp_completions(lm_eval_code, mirror):
    _, mbpp = lm_eval_code
    docs = _rows("google-research-datasets/mbpp/full/test.jsonl", 3)
    references = ["\n".join(d["test_list"]) for d in docs]
    assert mbpp.pass_at_1(references, [[d["code"]] for d in docs]) == 1.0
    assert mbpp.pass_at_1(references, [["def nothing():\n    pass"] for _ in docs]) == 0.0


HOSTILE = {
    "fork": "import os\nwhile True:\n    os.fork()",
    "socket": "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\ns.sendall(b'pwned')",
    "write outside": "open({marker!r}, 'w').write('pwned')",
    "infinite loop": "while True:\n    pass",
    "catch the refusal": "try:\n    open({marker!r}, 'w').write('x')\nexcept BaseException:\n    pass",
}


def test_hostile_completions_score_zero_and_harm_nothing(tmp_path):
    import socket

    marker = tmp_path / "escaped.txt"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    programs = [[code.format(port=port, marker=str(marker))] for code in HOSTILE.values()]
    start = time.monotonic()
    scores, results = SandboxCodeEval().compute(
        references=["assert True"] * len(programs), predictions=programs, k=[1]
    )
    assert scores == {"pass@1": 0.0}
    assert all(not r[0][1]["passed"] for r in results.values())
    assert not marker.exists()
    with pytest.raises(OSError):
        listener.accept()  # nothing connected
    listener.close()
    assert time.monotonic() - start < 60  # the loop and the fork bomb were cut off


def test_pass_at_k_estimator():
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - (3 * 2) / (5 * 4))
