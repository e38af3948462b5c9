"""The onnx calls of the rewrites. onnx is an optional dependency (the "export" extra): it is
imported when a rewrite runs, so that keras_minimal.deploy imports without it."""


def make_node(op_type, inputs, outputs, name=None, **attributes):
    from onnx import helper

    return helper.make_node(op_type, inputs, outputs, name=name, **attributes)


def from_array(array, name):
    from onnx import numpy_helper

    return numpy_helper.from_array(array, name)


def to_array(tensor):
    from onnx import numpy_helper

    return numpy_helper.to_array(tensor)


def attribute_value(attribute):
    from onnx import helper

    return helper.get_attribute_value(attribute)


def copy_node(node):
    """A detached copy of a NodeProto."""
    from onnx import NodeProto

    copied = NodeProto()
    copied.CopyFrom(node)
    return copied


def infer_shapes(model):
    from onnx import shape_inference

    return shape_inference.infer_shapes(model, data_prop=True)


def evaluate_node(node, values, opset):
    """The outputs of `node` on constant inputs, by onnx's reference implementation."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    graph = helper.make_graph(
        [node],
        "fold",
        [helper.make_tensor_value_info(name, 0, None) for name in node.input if name],
        [helper.make_tensor_value_info(name, 0, None) for name in node.output],
    )
    evaluator = ReferenceEvaluator(graph, opsets={"": opset})
    return evaluator.run(None, {name: values[name] for name in node.input if name})


def load_model(path):
    import onnx

    return onnx.load(path)


def is_valid_model(model):
    import onnx

    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError:
        return False
    return True


def save_checked_model(model, path):
    import onnx

    onnx.checker.check_model(model)
    onnx.save(model, path)
