"""Where a tensor's values sit, as PyTorch reports it: layout, data_ptr, storage_offset,
untyped_storage, is_shared; on every device (mps has no addresses: data_ptr says so)."""
import pickle

import pytest

import ember


def test_layout_is_strided_and_pickles_as_itself():
    assert ember.ones(2).layout is ember.strided and str(ember.strided) == "ember.strided"
    assert isinstance(ember.strided, ember.layout)
    assert pickle.loads(pickle.dumps(ember.strided)) is ember.strided


def test_views_report_their_offset_and_share_a_storage(any_device):
    base = ember.arange(12.0, device=any_device).reshape(3, 4)
    row = base[1, 1:]
    assert base.storage_offset() == 0 and row.storage_offset() == 5
    assert base.t().storage_offset() == 0 and base[2:].storage_offset() == 8
    assert row.untyped_storage().nbytes() == 48 == len(base.untyped_storage())
    assert base.untyped_storage().element_size() == 1
    assert not row.is_shared()
    if any_device == "mps":  # MLX arrays have no addresses
        with pytest.raises(RuntimeError, match="'mps' tensors expose no data pointer"):
            row.data_ptr()
        return
    assert row.data_ptr() - base.data_ptr() == 5 * 4
    assert row.untyped_storage().data_ptr() == base.data_ptr()
    assert ember.ones(3, device=any_device).untyped_storage().data_ptr() != base.untyped_storage().data_ptr()


def test_views_report_pytorchs_strides_and_contiguity(any_device):
    # on backends whose arrays cannot alias (mps), as if the memory were shared
    a = ember.arange(12.0, device=any_device).reshape(3, 4)
    assert a.stride() == (4, 1) and a.is_contiguous()
    assert a.t().stride() == (1, 4) and not a.t().is_contiguous()
    assert a[:, ::2].stride() == (4, 2) and not a[:, ::2].is_contiguous()
    assert a[1].stride() == (1,) and a[1].is_contiguous()
    assert a.t().contiguous().stride() == (3, 1) and a.t().contiguous().is_contiguous()
    assert a.unsqueeze(0).expand(2, 3, 4).stride() == (0, 4, 1)


def test_a_view_that_strides_cannot_express_is_refused_on_every_device(any_device):
    a = ember.arange(12.0, device=any_device).reshape(3, 4)
    with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's size and stride"):
        a.t().view(12)
    assert a[1:].view(8).tolist() == list(range(4, 12)) and a.t().reshape(12).shape == (12,)
