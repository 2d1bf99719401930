import numpy as np
import pytest

from pyimagesearch.utils import rank5_accuracy, rank_accuracy


def reference(preds, labels, k):
    """The book's per-row loop, with a stable sort so ties are well defined."""
    hits = 0
    for p, gt in zip(preds, labels):
        if gt in np.argsort(p, kind="stable")[::-1][:k]:
            hits += 1
    return hits / len(labels)


@pytest.mark.parametrize("ties", [False, True])
def test_matches_brute_force(ties):
    rng = np.random.default_rng(42)
    preds = rng.integers(0, 4, (500, 12)).astype(float) if ties else rng.random((500, 12))
    labels = rng.integers(0, 12, 500)
    rank1, rank5 = rank5_accuracy(preds, labels)
    assert rank1 == pytest.approx(reference(preds, labels, 1))
    assert rank5 == pytest.approx(reference(preds, labels, 5))
    result = rank_accuracy(preds, labels, ranks=(2, 3, 12))
    assert result[2] == pytest.approx(reference(preds, labels, 2))
    assert result[3] == pytest.approx(reference(preds, labels, 3))
    assert result[12] == 1.0


def test_one_hot_labels_equal_integer_labels():
    rng = np.random.default_rng(1)
    preds = rng.random((50, 7))
    labels = rng.integers(0, 7, 50)
    assert rank5_accuracy(preds, np.eye(7)[labels]) == rank5_accuracy(preds, labels)


def test_known_values():
    preds = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    assert rank5_accuracy(preds, [1, 2]) == (0.5, 1.0)
    assert rank_accuracy(preds, [1, 2], ranks=(2,)) == {2: 0.5}


def test_fewer_than_five_classes_rank5_is_one():
    rng = np.random.default_rng(3)
    assert rank5_accuracy(rng.random((20, 3)), rng.integers(0, 3, 20))[1] == 1.0


@pytest.mark.parametrize(
    "preds, labels, message",
    [
        (np.zeros((4, 3)), [0, 1, 2], "4 entries"),
        (np.zeros((2, 3)), [0, 3], r"\[0, 3\)"),
        (np.zeros((2, 3)), [-1, 0], r"\[0, 3\)"),
        (np.zeros(3), [0, 1, 2], r"\(N, C\)"),
        (np.zeros((2, 3)), np.zeros((2, 4)), "one-hot"),
        (np.zeros((2, 3)), [0.5, 1], "integer"),
    ],
)
def test_bad_inputs(preds, labels, message):
    with pytest.raises(ValueError, match=message):
        rank5_accuracy(preds, labels)


def test_bad_ranks():
    with pytest.raises(ValueError, match=r"ranks\[0\] must be a positive integer, got 0"):
        rank_accuracy(np.zeros((1, 2)), [0], ranks=(0,))


def test_evaluate_predictions_prints_report_and_ranks(capsys):
    from pyimagesearch.utils import evaluate_predictions

    preds = np.eye(6)[[0, 1, 2, 3, 4, 0]] * 0.9 + 0.01
    labels = np.array([0, 1, 2, 3, 4, 5])
    report, rank1, rank5 = evaluate_predictions(preds, labels, [f"c{i}" for i in range(6)])
    out = capsys.readouterr().out
    assert rank1 == pytest.approx(5 / 6) and rank5 == 1.0
    assert "c5" in report and report in out
    assert "rank-1: 83.33%" in out and "rank-5: 100.00%" in out
    evaluate_predictions(preds[:, :3], np.array([0, 1, 2, 0, 1, 2]), ["a", "b", "c"])
    out = capsys.readouterr().out
    assert "rank-5:" not in out  # rank-5 is only shown beyond 5 classes, and the output says why
    assert out.count("rank-5 not shown: with 3 classes (5 or fewer) it is always 100%") == 1


def test_evaluate_predictions_checks_class_names():
    from pyimagesearch.utils import evaluate_predictions

    with pytest.raises(ValueError, match="classNames must name each of the 3"):
        evaluate_predictions(np.zeros((2, 3)), [0, 1], ["a", "b"])


@pytest.mark.parametrize("classes, levels", [(100, 50), (100, 3), (12, 1000)])
def test_matches_brute_force_across_tie_densities(classes, levels):
    # few labels ranking in the top 5 (many classes) and many (few classes), with and without ties
    rng = np.random.default_rng(classes + levels)
    preds = rng.integers(0, levels, (400, classes)).astype("float32")
    labels = rng.integers(0, classes, 400)
    result = rank_accuracy(preds, labels, ranks=(1, 3, 5))
    for k in (1, 3, 5):
        assert result[k] == pytest.approx(reference(preds, labels, k))


def test_more_labels_than_preds_scores_the_first_rows_with_one_warning():
    # the book: model.predict(testGen.generator(), steps=numImages // 64) then all the labels
    rng = np.random.default_rng(3)
    (preds, labels) = (rng.random((128, 10)), rng.integers(0, 10, 150))
    with pytest.warns(UserWarning, match=r"150 rows but preds only 128.*model\.predict\(testGen\)") as caught:
        result = rank5_accuracy(preds, labels)
    assert len(caught) == 1
    assert result == rank5_accuracy(preds, labels[:128])
    one_hot = np.eye(10)[labels]
    with pytest.warns(UserWarning, match="150 rows"):
        assert rank_accuracy(preds, one_hot, ranks=(1,)) == rank_accuracy(preds, labels[:128], ranks=(1,))
    with pytest.raises(ValueError, match="128 entries"):
        rank5_accuracy(preds, labels[:100])  # more predictions than labels stays an error


def test_evaluate_predictions_takes_h5py_bytes_names_and_extra_labels():
    from pyimagesearch.utils import as_class_names, evaluate_predictions

    assert as_class_names([b"cat", "dog", b"caf\xc3\xa9"]) == ["cat", "dog", "café"]
    preds = np.eye(3)[[0, 1, 2, 1]]
    with pytest.warns(UserWarning, match="6 rows but preds only 4"):
        (report, rank1, _) = evaluate_predictions(preds, [0, 1, 2, 1, 0, 0], [b"cat", b"dog", b"fox"],
                                                  verbose=False)
    assert rank1 == 1.0 and "cat" in report and "b'cat'" not in report


def books_rank5_accuracy(preds, labels):
    """The book's rank5_accuracy (Practitioner Bundle, pyimagesearch/utils/ranked.py), as printed."""
    rank1 = 0
    rank5 = 0
    for (p, gt) in zip(preds, labels):
        p = np.argsort(p)[::-1]
        if gt in p[:5]:
            rank5 += 1
        if gt == p[0]:
            rank1 += 1
    rank1 /= float(len(labels))
    rank5 /= float(len(labels))
    return (rank1, rank5)


def test_fewer_predictions_than_labels_warns_with_the_books_figure_too():
    # 30 rank-1 hits among 64 predictions, 70 labels: 46.88% of the rows scored, 42.86% in the book's code
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 10, 70)
    preds = rng.random((64, 10))
    hit = np.zeros(64, bool)
    hit[rng.choice(64, 30, replace=False)] = True
    for row in range(64):
        top = labels[row] if hit[row] else (labels[row] + 1) % 10
        preds[row, top] = 2.0
    book = books_rank5_accuracy(preds, labels)
    assert book[0] == pytest.approx(30 / 70)
    with pytest.warns(UserWarning) as caught:
        (rank1, rank5) = rank5_accuracy(preds, labels)
    assert len(caught) == 1
    assert rank1 == pytest.approx(30 / 64)
    message = str(caught[0].message)
    assert "rank-1 46.88%" in message and "rank-1 42.86%" in message and "all 70 labels" in message
    assert f"rank-5 {rank5:.2%}" in message and f"rank-5 {book[1]:.2%}" in message
    assert book[1] == pytest.approx(rank5 * 64 / 70)  # same rows, the book's denominator


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_predictions_are_refused_not_scored(bad):
    preds = np.full((6, 10), bad)
    with pytest.raises(ValueError, match=r"60 scores that are NaN or infinite, in 6 of 6 rows.*diverged"):
        rank5_accuracy(preds, [0, 1, 2, 3, 4, 5])
    preds = np.random.default_rng(0).random((6, 10))
    preds[2, 3] = bad
    with pytest.raises(ValueError, match="1 scores .* in 1 of 6 rows"):
        rank_accuracy(preds, [0, 1, 2, 3, 4, 5], ranks=(1,))
    huge = np.full((2, 3), 1e308)  # finite scores whose sum overflows are still scored
    huge[0, 1] = 1.7e308
    assert rank_accuracy(huge, [1, 0], ranks=(1,)) == {1: 0.5}


def test_evaluate_predictions_refuses_nan_predictions(capsys):
    from pyimagesearch.utils import evaluate_predictions

    with pytest.raises(ValueError, match="diverged"):
        evaluate_predictions(np.full((6, 10), np.nan), np.arange(6), [str(i) for i in range(10)])
    assert "rank-1" not in capsys.readouterr().out
