"""``ember.onnx.ops`` nodes as ONNX nodes: RotaryEmbedding-23, Attention-23 and the symbolic
custom-domain operators (registered into ``ember.onnx._translate.TRANSLATIONS`` when export runs)."""
from __future__ import annotations

from onnx import AttributeProto, helper

from ember.fx.graph import Node
from ember.onnx import ops
from ember.onnx._translate import translates


def _inputs(c, values):
    """ONNX value names of optional inputs ("" for None), trailing omitted ones dropped."""
    names = [c.v(a) if isinstance(a, Node) else "" for a in values]
    while names and names[-1] == "":
        names.pop()
    return names


def _append(c, op_type, inputs, n_out, attrs, domain="", version=None, metadata=None):
    em = c.em
    outs = [em.fresh(f"{op_type.lower()}" if n_out == 1 else f"{op_type.lower()}_out{i}") for i in range(n_out)]
    node = helper.make_node(op_type, inputs, outs, name=em.fresh(f"n_{op_type.lower()}"), domain=domain or None)
    for k, v in attrs.items():
        if isinstance(v, (list, tuple)) and not v:   # an empty list has no element to infer its type from
            node.attribute.append(helper.make_attribute(k, [], attr_type=AttributeProto.INTS))
        else:
            node.attribute.append(helper.make_attribute(k, list(v) if isinstance(v, tuple) else v))
    for k, v in (metadata or {}).items():
        entry = node.metadata_props.add()
        entry.key, entry.value = str(k), str(v)
    em.nodes.append(node)
    if domain:   # the model imports every custom domain its nodes use (see _export)
        domains = em.__dict__.setdefault("custom_domains", {})
        domains[domain] = max(domains.get(domain, 1), version or 1)
    return outs[0] if n_out == 1 else outs


@translates(ops._symbolic)
def _symbolic(c):
    domain_op, inputs, attrs = c.args[:3]
    domain, op_type = ops._split_domain(domain_op)
    return _append(c, op_type, _inputs(c, inputs), 1, attrs, domain, c.kwargs.get("version"),
                   c.kwargs.get("metadata_props"))


@translates(ops._symbolic_multi_out)
def _symbolic_multi_out(c):
    domain_op, inputs, attrs = c.args[:3]
    domain, op_type = ops._split_domain(domain_op)
    return _append(c, op_type, _inputs(c, inputs), len(c.kwargs["dtypes"]), attrs, domain, c.kwargs.get("version"),
                   c.kwargs.get("metadata_props"))


@translates(ops._rotary_embedding_23)
def _rotary_embedding(c):
    if c.em.opset < 23:
        raise c.unsupported(23)
    args = list(c.args) + [None] * (4 - len(c.args))
    kw = c.kwargs
    attrs = {"interleaved": int(kw.get("interleaved", False))}
    if kw.get("num_heads"):
        attrs["num_heads"] = int(kw["num_heads"])
    if kw.get("rotary_embedding_dim"):
        attrs["rotary_embedding_dim"] = int(kw["rotary_embedding_dim"])
    return _append(c, "RotaryEmbedding", _inputs(c, args[:4]), 1, attrs)


@translates(ops._attention_23)
def _attention(c):
    if c.em.opset < 23:
        raise c.unsupported(23)
    args = list(c.args) + [None] * (6 - len(c.args))
    kw = c.kwargs
    attrs = {"is_causal": int(kw.get("is_causal", False)),
             "qk_matmul_output_mode": int(kw.get("qk_matmul_output_mode", 0))}
    for name in ("q_num_heads", "kv_num_heads"):
        if kw.get(name):
            attrs[name] = int(kw[name])
    if kw.get("scale") is not None:
        attrs["scale"] = float(kw["scale"])
    if kw.get("softcap"):
        attrs["softcap"] = float(kw["softcap"])
    if kw.get("softmax_precision") is not None:
        attrs["softmax_precision"] = int(kw["softmax_precision"])
    return _append(c, "Attention", _inputs(c, args[:6]), 4, attrs)
