import os

import numpy as np
import onnx_models
import onnxruntime as ort
import pytest
from calib_helpers import requires_pil, requires_sklearn, write_png

from edgebench.calibration.accuracy import ArrayLabelled, evaluate, open_labelled_data
from edgebench.calibration.preprocess import Preprocess
from edgebench.errors import UsageError

SHAPE = (1, 2, 2)


def _labelled(labels, classes=None):
    """Images whose pixels hold their label, and a model that reads it back as one-hot scores."""
    y = np.asarray(labels)
    x = np.repeat(y.astype(np.float32), 4).reshape((len(y),) + SHAPE)
    return ArrayLabelled("mem", x, y, SHAPE), classes


def _one_hot_model(classes, shift=0):
    def infer(batch):
        scores = np.zeros((len(batch), classes), dtype=np.float32)
        scores[np.arange(len(batch)), (batch[:, 0, 0, 0].astype(int) + shift) % classes] = 1.0
        return scores

    return infer


def test_a_perfect_model_scores_100_percent():
    data, _ = _labelled([0, 1, 2, 3, 4, 5, 6])
    result = evaluate(_one_hot_model(10), data, batch_size=3)
    assert result == {"top1": 100.0, "top5": 100.0, "samples": 7, "skipped": 0}


def test_top5_counts_the_label_among_the_five_best_scores():
    data, _ = _labelled([0, 1, 2, 3])

    def infer(batch):  # the label ranks third everywhere
        scores = np.tile(np.arange(10, dtype=np.float32), (len(batch), 1))
        for row, label in enumerate(batch[:, 0, 0, 0].astype(int)):
            scores[row, label] = 7.5
        return scores

    result = evaluate(infer, data, batch_size=4)
    assert result["top1"] == 0.0 and result["top5"] == 100.0


def test_top5_is_none_with_fewer_than_five_classes():
    data, _ = _labelled([0, 1, 2])
    assert evaluate(_one_hot_model(3), data, batch_size=2)["top5"] is None


def test_last_partial_batch_is_padded_for_fixed_batch_engines():
    data, _ = _labelled([0, 1, 2, 3, 4])
    sizes = []

    def fixed(batch):
        sizes.append(len(batch))
        return _one_hot_model(10)(batch)

    result = evaluate(fixed, data, batch_size=4)
    assert sizes == [4, 4] and result["samples"] == 5 and result["top1"] == 100.0


def test_session_objects_are_called_through_infer():
    class Session(object):
        def infer(self, batch):
            return _one_hot_model(10, shift=1)(batch)

    data, _ = _labelled([0, 1])
    assert evaluate(Session(), data, batch_size=2)["top1"] == 0.0


def test_label_beyond_the_model_outputs_is_a_usage_error():
    data, _ = _labelled([0, 12])
    with pytest.raises(UsageError, match="label 12 but the model has 10 outputs"):
        evaluate(_one_hot_model(10), data, batch_size=2)


def test_labels_beyond_the_declared_classes_are_refused_before_running():
    data, _ = _labelled([0, 12])
    with pytest.raises(UsageError, match="labels up to 12 but the model has 10 classes"):
        data.check_classes(10)


def test_output_without_a_row_per_image_is_a_usage_error():
    data, _ = _labelled([0, 1])
    with pytest.raises(UsageError, match="one row of class scores"):
        evaluate(lambda batch: np.zeros(10), data, batch_size=2)


def test_real_onnxruntime_session_agrees_with_its_own_labels(tmp_path):
    path = onnx_models.conv_net(tmp_path / "net.onnx")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.RandomState(0).standard_normal((20, 3, 16, 16)).astype(np.float32)
    y = np.argmax(sess.run(None, {"input": x})[0], axis=1)
    data = ArrayLabelled("mem", x, y, (3, 16, 16))
    result = evaluate(lambda b: sess.run(None, {"input": b})[0], data, batch_size=8)
    assert result["top1"] == 100.0 and result["samples"] == 20


def _class_tree(root, classes, per_class=2):
    for index, name in enumerate(classes):
        os.makedirs(os.path.join(root, name))
        for i in range(per_class):
            write_png(os.path.join(root, name, "{}.png".format(i)), np.full((8, 8, 3), 40 * index))
    return root


@requires_pil
def test_class_folders_are_labelled_by_sorted_name(tmp_path):
    root = _class_tree(str(tmp_path / "val"), ["n02", "n01", "n03"])
    data = open_labelled_data(root, Preprocess(8, resize=None), num_classes=3)
    labels = [y for _, ys in data.batches(10) for y in ys]
    assert labels == [0, 0, 1, 1, 2, 2]
    assert data.items[0][0] == "n01/0.png"


@requires_pil
def test_integer_class_folders_are_class_indices(tmp_path):
    root = _class_tree(str(tmp_path / "val"), ["281", "7"])
    data = open_labelled_data(root, Preprocess(8, resize=None), num_classes=1000)
    assert sorted(set(y for _, ys in data.batches(10) for y in ys)) == [7, 281]


@requires_pil
def test_named_class_folders_must_match_the_model_classes(tmp_path):
    root = _class_tree(str(tmp_path / "val"), ["cat", "dog"])
    with pytest.raises(UsageError, match="2 class folders but the model has 1000 classes"):
        open_labelled_data(root, Preprocess(8, resize=None), num_classes=1000)


@requires_pil
def test_integer_class_folder_beyond_the_model_is_a_usage_error(tmp_path):
    root = _class_tree(str(tmp_path / "val"), ["3", "10"])
    with pytest.raises(UsageError, match="labels up to 10"):
        open_labelled_data(root, Preprocess(8, resize=None), num_classes=10)


@requires_pil
def test_undecodable_labelled_images_are_skipped_and_counted(tmp_path):
    root = _class_tree(str(tmp_path / "val"), ["0", "1"])
    with open(os.path.join(root, "1", "0.png"), "wb") as fh:
        fh.write(b"broken")
    data = open_labelled_data(root, Preprocess(8, resize=None), num_classes=2)
    result = evaluate(_one_hot_model(2), data, batch_size=2)
    assert result["samples"] == 3 and result["skipped"] == 1


def test_folder_of_loose_images_is_a_usage_error(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(UsageError, match="one sub-folder per class"):
        open_labelled_data(str(tmp_path), Preprocess(8), num_classes=10)


def test_npz_without_labels_is_a_usage_error(tmp_path):
    path = str(tmp_path / "data.npz")
    np.savez(path, x=np.zeros((2,) + SHAPE, np.float32))
    with pytest.raises(UsageError, match="no 'y' array"):
        open_labelled_data(path, shape=SHAPE)


def test_non_integer_labels_are_a_usage_error(tmp_path):
    path = str(tmp_path / "data.npz")
    np.savez(path, x=np.zeros((2,) + SHAPE, np.float32), y=np.array([0.5, 1.0]))
    with pytest.raises(UsageError, match="integer class indices"):
        open_labelled_data(path, shape=SHAPE)


def test_labelled_npz_of_the_wrong_shape_is_a_usage_error(tmp_path):
    path = str(tmp_path / "data.npz")
    np.savez(path, x=np.zeros((2, 3, 5, 5), np.float32), y=np.array([0, 1]))
    with pytest.raises(UsageError, match="2x3x5x5"):
        open_labelled_data(path, shape=(3, 4, 4))


def test_data_fingerprint_changes_with_the_labels(tmp_path):
    x = np.zeros((2,) + SHAPE, np.float32)
    a = ArrayLabelled("m", x, np.array([0, 1]), SHAPE).fingerprint
    b = ArrayLabelled("m", x, np.array([1, 0]), SHAPE).fingerprint
    assert a != b


@requires_sklearn
def test_digits_test_split_is_the_fixed_360_images():
    data = open_labelled_data("digits", shape=(1, 32, 32))
    again = open_labelled_data("digits", shape=(1, 32, 32))
    assert data.count == 360 and data.fingerprint == again.fingerprint
