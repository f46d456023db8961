"""Experimental fx tools (``proxy_tensor.make_fx``)."""
