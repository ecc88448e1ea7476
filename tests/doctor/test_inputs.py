import numpy as np
import pytest

from babysit.doctor.inputs import as_dataset, as_model_factory, child_rng
from babysit.errors import DataError

from .doctor_cases import fc_factory


def test_data_as_dict_tuple_or_object(small_digits):
    d = as_dataset(small_digits)
    assert d.num_classes == 10 and len(d.y_train) == 400
    t = as_dataset((small_digits["X_train"], small_digits["y_train"]))
    assert t.X_val is t.X_train


@pytest.mark.parametrize("data,fragment", [
    ({"X_train": np.zeros((3, 2)), "y_train": np.zeros(3, int)}, "lacks X_val, y_val"),
    ((np.zeros((3, 2)), np.array([0, 1])), "3 rows but y_train has 2"),
    ((np.zeros((3, 2)), np.array([0.0, 1.0, 1.0])), "integer class labels"),
    ((np.zeros((3, 2)), np.array([2, 2, 2])), "at least 2"),
])
def test_bad_data_is_a_data_error(data, fragment):
    with pytest.raises(DataError, match=fragment):
        as_dataset(data)


def test_stratified_sample_covers_every_class(small_digits):
    X, y = as_dataset(small_digits).stratified_sample(20, np.random.default_rng(0))
    assert len(y) == 20 and set(y.tolist()) == set(range(10))


def test_a_model_instance_becomes_a_factory_of_copies():
    model = fc_factory([7])()
    model.params["W1"] = np.full_like(model.params["W1"], 0.5)
    make = as_model_factory(model)
    copy = make()
    assert copy is not model
    np.testing.assert_array_equal(copy.params["W1"], model.params["W1"])
    copy.params["W1"][0, 0] = 9.0
    assert model.params["W1"][0, 0] == 0.5  # the checks never touch the caller's model
    assert make(dtype=np.float64).params["W1"].dtype == np.float64


def test_child_rngs_are_independent_of_order_and_reproducible():
    a = child_rng(3, "lr_range").random(3)
    child_rng(3, "overfit_small").random(5)
    np.testing.assert_array_equal(a, child_rng(3, "lr_range").random(3))
    assert not np.array_equal(a, child_rng(4, "lr_range").random(3))
