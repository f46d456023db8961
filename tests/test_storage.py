"""Typed storages, Tensor.storage()/storage_type()/record_stream, and the legacy typed classes
(ember.FloatTensor, ember.FloatStorage, ember.cuda.FloatTensor, ...), against PyTorch 2.13's behaviour."""
import numpy as np
import pytest

import ember


def test_storage_shares_memory_with_its_tensor_and_views(any_device):
    t = ember.arange(6.0, device=any_device).reshape(2, 3)
    s = t.storage()
    assert isinstance(s, ember.TypedStorage) and s.size() == len(s) == 6 and s.dtype is ember.float32
    assert s.device == t.device and s.element_size() == 4 and s.nbytes() == 24
    s[0] = 5.0
    t[1].storage()[4] = -1.0  # a view's storage is its base's: element 4 of the whole
    np.testing.assert_array_equal(t.cpu().numpy(), [[5, 1, 2], [3, -1, 5]])
    assert s.tolist() == [5.0, 1.0, 2.0, 3.0, -1.0, 5.0] and s[-1] == 5.0
    s.fill_(2.0)
    assert (t.cpu().numpy() == 2).all()
    c = s.clone()
    c[0] = 9.0
    assert t[0, 0].item() == 2.0 and c[0] == 9.0


def test_storage_addresses_and_untyped_view():
    t = ember.arange(12, dtype=ember.int32).reshape(3, 4)
    assert t.storage().data_ptr() == t.data_ptr() == t[1:].storage().data_ptr()
    assert t[1:].storage_offset() == 4 and t[1:].storage().size() == 12
    u = t.storage().untyped()
    assert isinstance(u, ember.UntypedStorage) and u.nbytes() == 48
    as_bytes = ember.TypedStorage(wrap_storage=u, dtype=ember.uint8)
    assert as_bytes.size() == 48 and as_bytes[4] == 1  # little-endian int32 1
    transposed = ember.ones(3, 4).T  # not contiguous: its storage is its base's memory
    assert transposed.storage().size() == 12 and transposed.storage().data_ptr() == transposed.data_ptr()


def test_storage_indexing_errors_and_casts():
    s = ember.tensor([1.5, -2.5, 3.0]).storage()
    with pytest.raises(IndexError, match="index 3 out of range for storage of size 3"):
        s[3]
    with pytest.raises(RuntimeError, match="slices are only supported"):
        s[1:2]
    d = s.double()
    assert d.dtype is ember.float64 and d.tolist() == [1.5, -2.5, 3.0] and d.data_ptr() != s.data_ptr()
    assert s.long().tolist() == [1, -2, 3] and s.float() is s
    assert s.type() == "ember.FloatStorage" and s.type(ember.IntStorage).dtype is ember.int32
    assert s.pickle_storage_type() == "FloatStorage"
    target = ember.FloatStorage(3)
    target.copy_(ember.IntStorage([7, 8, 9]))
    assert target.tolist() == [7.0, 8.0, 9.0]
    with pytest.raises(RuntimeError, match="size mismatch"):
        target.copy_(ember.FloatStorage(2))


def test_typed_storage_constructors_and_legacy_storage_classes():
    assert ember.FloatStorage(3).tolist() == [0.0, 0.0, 0.0]
    s = ember.TypedStorage([1, 2], dtype=ember.int32)
    assert s.dtype is ember.int32 and s.tolist() == [1, 2] and ember.TypedStorage().size() == 0
    assert isinstance(s, ember.IntStorage) and not isinstance(s, ember.FloatStorage)
    assert isinstance(s, ember.TypedStorage) and type(ember.DoubleStorage(1)) is ember.TypedStorage
    assert ember.ByteStorage.from_buffer(b"ab").tolist() == [97, 98]
    assert ember.ShortStorage.from_buffer(b"\x01\x00\x00\x01", "big").tolist() == [256, 1]
    assert ember.FloatStorage.dtype is ember.float32 and ember.BoolStorage.dtype is ember.bool
    assert repr(ember.FloatStorage) == "<class 'ember.FloatStorage'>"
    with pytest.raises(RuntimeError, match="non-negative"):
        ember.FloatStorage(-1)


def test_is_storage_and_storage_type():
    t = ember.zeros(2, dtype=ember.float64)
    assert ember.is_storage(t.storage()) and ember.is_storage(t.untyped_storage())
    assert not ember.is_storage(t) and not ember.is_storage([1.0])
    assert t.storage_type() is ember.DoubleStorage
    assert ember.ones(1, dtype=ember.uint8).storage_type() is ember.ByteStorage


def test_legacy_tensor_constructors():
    assert ember.FloatTensor(2, 3).shape == (2, 3) and ember.FloatTensor(2, 3).dtype is ember.float32
    assert ember.DoubleTensor(ember.Size([2, 2])).dtype is ember.float64
    assert ember.FloatTensor().shape == (0,) and ember.FloatTensor((2, 3)).tolist() == [2.0, 3.0]  # a tuple is data
    assert ember.LongTensor([1.5, -2.7]).tolist() == [1, -2]  # truncated, as PyTorch
    assert ember.BoolTensor([1, 0]).tolist() == [True, False]
    storage = ember.FloatStorage([1, 2, 3])
    viewed = ember.FloatTensor(storage)
    viewed[0] = 10.0
    assert storage[0] == 10.0  # the tensor views the storage's memory
    x = ember.tensor([1.0, 2.0])
    alias = ember.FloatTensor(x)
    alias[1] = 5.0
    assert x[1].item() == 5.0
    with pytest.raises(TypeError, match="expected ember.FloatTensor"):
        ember.FloatTensor(ember.tensor([1, 2]))
    with pytest.raises(TypeError):
        ember.FloatTensor([1, 2], dtype=ember.float64)


def test_legacy_tensor_isinstance_and_class_attributes(any_device):
    t = ember.ones(2, device=any_device)
    assert isinstance(t, ember.FloatTensor) == (any_device == "cpu")
    assert not isinstance(t, ember.DoubleTensor) and not isinstance(t, ember.cuda.FloatTensor)
    assert isinstance(ember.tensor([1]), ember.LongTensor) and not isinstance(3.0, ember.FloatTensor)
    assert not issubclass(ember.FloatTensor, ember.Tensor)  # as PyTorch's
    assert ember.FloatTensor.dtype is ember.float32 and not ember.FloatTensor.is_cuda
    assert ember.cuda.HalfTensor.dtype is ember.float16 and ember.cuda.HalfTensor.is_cuda
    assert repr(ember.IntTensor) == "<class 'ember.IntTensor'>"


@pytest.mark.skipif(ember.cuda.is_available(), reason="checks a machine without a usable GPU")
def test_cuda_legacy_types_without_a_gpu():
    with pytest.raises(TypeError, match="type ember.cuda.FloatTensor not available"):
        ember.cuda.FloatTensor(2)
    with pytest.raises(TypeError, match="type ember.cuda.FloatStorage not available"):
        ember.cuda.FloatStorage(2)
    assert not isinstance(ember.ones(1).storage(), ember.cuda.FloatStorage)


def test_set_default_tensor_type():
    try:
        ember.set_default_tensor_type(ember.DoubleTensor)
        assert ember.get_default_dtype() is ember.float64 and ember.tensor([1.0]).dtype is ember.float64
        ember.set_default_tensor_type("torch.HalfTensor")
        assert ember.get_default_dtype() is ember.float16
        with pytest.raises(TypeError, match="only floating-point types"):
            ember.set_default_tensor_type(ember.IntTensor)
        with pytest.raises(TypeError, match="invalid type object"):
            ember.set_default_tensor_type(ember.float64)
    finally:
        ember.set_default_tensor_type(ember.FloatTensor)
    assert ember.get_default_dtype() is ember.float32


def test_record_stream_checks_its_arguments():
    with pytest.raises(RuntimeError, match="record_stream expects an ember.cuda.Stream"):
        ember.ones(2).record_stream(None)


def test_record_stream_keeps_memory_until_the_stream_passes(monkeypatch):
    # a GPU is not needed to check the bookkeeping: a stream whose event is pending keeps the array
    from ember.ops import storage as storage_module

    class Pending:
        def __init__(self):
            self.done = False

        def query(self):
            return self.done

    class FakeStream:
        cupy_stream = object()

        def __init__(self):
            self.events = []

        def record_event(self):
            self.events.append(Pending())
            return self.events[-1]

    t = ember.ones(3)
    monkeypatch.setattr(type(t), "is_cuda", property(lambda self: True))
    monkeypatch.setattr(storage_module, "_IN_USE", [])
    stream = FakeStream()
    t.record_stream(stream)
    assert [a is t._data for _, a in storage_module._IN_USE] == [True]
    stream.events[0].done = True
    ember.ones(1).record_stream(stream)  # the finished event's memory is released
    assert len(storage_module._IN_USE) == 1 and storage_module._IN_USE[0][0] is stream.events[1]


def test_tensor_type_takes_legacy_types():
    t = ember.arange(3.0)
    assert t.type(ember.DoubleTensor).dtype is ember.float64
    assert t.type("torch.IntTensor").tolist() == [0, 1, 2] and t.type("ember.ShortTensor").dtype is ember.int16
    with pytest.raises(ValueError, match="invalid type: 'torch.Foo'"):
        t.type("torch.Foo")


def test_legacy_sparse_constructors():
    from ember.ops.storage import legacy_sparse_tensor_types
    FloatSparse = legacy_sparse_tensor_types("cpu")["FloatTensor"]  # the CPU form of ember.cuda.sparse's classes
    s = FloatSparse(ember.tensor([[0, 1], [1, 0]]), ember.tensor([3.0, 4.0]), ember.Size([2, 2]))
    assert s.is_sparse and s.dtype is ember.float32 and s.to_dense().tolist() == [[0.0, 3.0], [4.0, 0.0]]
    empty = FloatSparse(2, 3)
    assert empty.is_sparse and tuple(empty.shape) == (2, 3) and empty.to_dense().abs().sum().item() == 0
    assert isinstance(s, FloatSparse) and not isinstance(s, ember.FloatTensor)  # as PyTorch: layouts differ
    assert not isinstance(ember.ones(1), FloatSparse) and FloatSparse.is_sparse
    assert not isinstance(ember.sparse_coo_tensor([[0]], [1.0], (1,), device="cpu"), ember.cuda.sparse.FloatTensor)
    if not ember.cuda.is_available():
        with pytest.raises(TypeError, match="type ember.cuda.sparse.FloatTensor not available"):
            ember.cuda.sparse.FloatTensor()
