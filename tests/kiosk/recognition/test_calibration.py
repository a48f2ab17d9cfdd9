"""Calibration maths and the pairs-file parser."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.recognition.calibration import (
    PairsFileError,
    parse_columns,
    rates_at,
    read_pairs,
    sweep,
    threshold_for_fmr,
)


def test_rates_follow_the_engines_rule_score_at_threshold_matches():
    genuine = np.array([0.9, 0.5, 0.3])
    impostor = np.array([0.1, 0.3, 0.35])
    r = rates_at(genuine, impostor, 0.3)
    assert (r.fmr, r.fnmr) == (2 / 3, 0.0)
    r = rates_at(genuine, impostor, 0.36)
    assert (r.false_matches, r.false_non_matches) == (0, 1)


def test_threshold_for_target_fmr_is_tight():
    rng = np.random.default_rng(0)
    impostor = rng.normal(0.1, 0.08, 10_000)
    t = threshold_for_fmr(impostor, 0.001)
    assert rates_at(np.array([]), impostor, t).fmr <= 0.001
    assert rates_at(np.array([]), impostor, t - 0.002).fmr > 0.001
    assert threshold_for_fmr(np.array([]), 0.01) is None


def test_sweep_is_monotonic():
    rng = np.random.default_rng(1)
    rows = sweep(rng.normal(0.6, 0.1, 500), rng.normal(0.1, 0.1, 500))
    fmrs = [r.fmr for r in rows]
    fnmrs = [r.fnmr for r in rows]
    assert fmrs == sorted(fmrs, reverse=True) and fnmrs == sorted(fnmrs)


def test_pairs_parser_accepts_variants_and_names_bad_lines():
    pairs = read_pairs("a.jpg, b.jpg, YES\n# comment\n\nc.jpg,d.jpg,0\n")
    assert [(p.image_a, p.same, p.line) for p in pairs] == [("a.jpg", True, 1), ("c.jpg", False, 4)]
    with pytest.raises(PairsFileError, match=":2: need 3 columns"):
        read_pairs("image_a,image_b,same\na.jpg,b.jpg\n")
    with pytest.raises(PairsFileError, match="no pairs"):
        read_pairs("image_a,image_b,same\n")


def test_lfw_pairs_txt_names_images_by_person_and_number():
    text = "2\nAbel_Pacheco\t1\t4\nAkhmed_Zakayev\t1\t3\nAbdel\t1\tZico\t2\nA_B\t3\tC_D\t12\n"
    pairs = read_pairs(text, "pairs.txt")
    assert [(p.image_a, p.image_b, p.same) for p in pairs[::2]] == [
        ("Abel_Pacheco/Abel_Pacheco_0001.jpg", "Abel_Pacheco/Abel_Pacheco_0004.jpg", True),
        ("Abdel/Abdel_0001.jpg", "Zico/Zico_0002.jpg", False),
    ]
    assert read_pairs("1 1\nX 1 2\nX 1 Y 1\n")[1].line == 3  # folds x pairs per fold


@pytest.mark.parametrize(("text", "message"), [
    ("10\t300\nX\t1\t2\n", "declares 6000 pairs, the file has 1"),
    ("1\nX\t1\nX\t1\tY\t1\n", ":2: LFW pairs need"),
    ("1\nX\t1\t2\nX\tone\tY\t1\n", ":3: LFW pairs need"),
])
def test_bad_lfw_files_say_what_is_wrong(text, message):
    with pytest.raises(PairsFileError, match=message):
        read_pairs(text, "pairs.txt")


@pytest.mark.parametrize("label", ["yes", "TRUE", "same", "1", "genuine"])
def test_csv_labels_in_every_common_spelling(label):
    negative = {"yes": "no", "TRUE": "false", "same": "different", "1": "0", "genuine": "impostor"}
    pairs = read_pairs(f"img1,img2,label\na,b,{label}\nc,d,{negative[label]}\n")
    assert [p.same for p in pairs] == [True, False]


def test_csv_columns_are_found_by_name():
    text = "pair,verdict,left,right\n1,different,a.jpg,b.jpg\n2,same,c.jpg,d.jpg\n"
    pairs = read_pairs(text, columns=parse_columns("left, right, VERDICT"))
    assert [(p.image_a, p.image_b, p.same) for p in pairs] == [
        ("a.jpg", "b.jpg", False), ("c.jpg", "d.jpg", True)]
    with pytest.raises(PairsFileError, match="--columns A,B,LABEL"):
        read_pairs(text)
    with pytest.raises(PairsFileError, match="not lefty"):
        read_pairs(text, columns=("lefty", "right", "verdict"))
    with pytest.raises(PairsFileError, match=":3: need 4 columns"):
        read_pairs(text.replace("2,same,", "same,"), columns=("left", "right", "verdict"))
    with pytest.raises(PairsFileError, match="three names"):
        parse_columns("left,right")
